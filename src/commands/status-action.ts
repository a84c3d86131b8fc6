// status's work, loaded only when status runs (see status.ts).
import { progressOutput } from '../run/fleet.js';
import { prepareStatus, statusRound } from '../status/round.js';
import { formatStatus, statusDocument } from '../status/format.js';
import { prometheusText } from '../status/prometheus.js';
import { repeatUntilInterrupted } from '../status/watch.js';

export interface StatusFlags {
  limit?: string;
  forks: number;
  json?: boolean;
  prometheus?: boolean;
  watch?: number;
  matrix?: boolean;
  verbose?: boolean;
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J';
/** Output width when stdout is not a terminal and COLUMNS is unset: about 30 short node names. */
const PIPE_WIDTH = 160;

function outputWidth(flags: StatusFlags): number {
  if (flags.matrix) return Infinity;
  if (process.stdout.isTTY) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : PIPE_WIDTH;
}

export async function runStatus(inventoryArg: string | undefined, flags: StatusFlags): Promise<void> {
  const note = (m: string): void => void process.stderr.write(`${m}\n`);
  const target = await prepareStatus(inventoryArg, flags.limit, note);
  const seconds = flags.watch;
  const watching = seconds !== undefined;
  // Progress lines would scroll a redrawn screen away, so watch rounds run quietly.
  const output = progressOutput(Boolean(flags.json || flags.prometheus) || watching);

  const round = async (): Promise<number> => {
    const result = await statusRound(target, { forks: flags.forks, output, verbose: Boolean(flags.verbose), log: note });
    const { health, probes } = result;
    if (flags.prometheus) {
      process.stdout.write(prometheusText(result));
    } else if (flags.json) {
      // Watching prints one document per line (JSON Lines), so a consumer can read them as they come.
      process.stdout.write(`${JSON.stringify(statusDocument(health, probes), null, watching ? undefined : 2)}\n`);
    } else {
      const redraw = watching && process.stdout.isTTY;
      const header = watching ? `every ${seconds} s, ${new Date().toLocaleTimeString()} — Ctrl-C to stop\n\n` : '';
      process.stdout.write(`${redraw ? CLEAR_SCREEN : ''}${header}${formatStatus(health, { width: outputWidth(flags) })}\n`);
    }
    return health.exitCode;
  };

  process.exitCode = seconds === undefined ? await round() : await repeatUntilInterrupted(seconds * 1000, round);
}
