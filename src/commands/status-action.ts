// status's work, loaded only when status runs (see status.ts).
import { prepareFleet } from '../state/fleet.js';
import { stateLockHolder } from '../state/store.js';
import { progressOutput } from '../run/fleet.js';
import { planSelection } from '../run/plan-selection.js';
import { collectStatus } from '../status/collect.js';
import { analyzeMesh } from '../status/analyze.js';
import { formatStatus, statusDocument } from '../status/format.js';
import { repeatUntilInterrupted } from '../status/watch.js';

export interface StatusFlags {
  limit?: string;
  forks: number;
  json?: boolean;
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
  // Made before new keys are saved (a wrong --limit writes nothing); a --limit'ed node is still checked
  // against every peer, and its rendered files' hashes against the files on the node.
  const { plan, selected, statePath } = await prepareFleet(inventoryArg, note, {}, (fleet) => ({
    ...planSelection(fleet, flags.limit),
    statePath: fleet.inventory.statePath,
  }));
  const seconds = flags.watch;
  const watching = seconds !== undefined;
  // Progress lines would scroll a redrawn screen away, so watch rounds run quietly.
  const output = progressOutput(Boolean(flags.json) || watching);

  const round = async (): Promise<number> => {
    // A deploy holds the state lock for its whole run: one seen before or after the nodes were asked
    // may have changed links while they were read.
    const before = stateLockHolder(statePath);
    const probes = await collectStatus(plan, selected, { forks: flags.forks, output, verbose: Boolean(flags.verbose), log: note });
    const deployInProgress = before ?? stateLockHolder(statePath);
    const health = analyzeMesh(
      plan,
      selected.map((n) => n.name),
      probes,
      { deployInProgress },
    );
    if (flags.json) {
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
