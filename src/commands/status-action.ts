// status's work, loaded only when status runs (see status.ts).
import { prepareFleet } from '../state/fleet.js';
import { loadTemplates } from '../mesh/templates.js';
import { planMesh, renderFilesOf } from '../mesh/plan.js';
import { selectNodes } from '../inventory/select.js';
import type { OutputMode } from '../run/fleet.js';
import { collectStatus } from '../status/collect.js';
import { analyzeMesh } from '../status/analyze.js';
import { formatStatus, statusDocument } from '../status/format.js';
import { repeatUntilInterrupted } from '../status/watch.js';

export interface StatusFlags {
  limit?: string;
  forks: number;
  json?: boolean;
  watch?: number;
  verbose?: boolean;
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export async function runStatus(inventoryArg: string | undefined, flags: StatusFlags): Promise<void> {
  const note = (m: string): void => void process.stderr.write(`${m}\n`);
  // The plan covers the whole inventory, so a --limit'ed node is still checked against every peer.
  // Both are made before new keys are saved: a wrong --limit writes nothing.
  const { plan, selected } = await prepareFleet(inventoryArg, note, {}, ({ inventory, state }) => {
    const plan = planMesh(inventory, state, loadTemplates(inventory));
    const selected = selectNodes(inventory, flags.limit);
    renderFilesOf(plan, selected); // their hashes are compared with the nodes' files
    return { plan, selected };
  });
  const seconds = flags.watch;
  const watching = seconds !== undefined;
  // Progress lines would scroll a redrawn screen away, so watch rounds run quietly.
  const output: OutputMode = flags.json || watching ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';

  const round = async (): Promise<number> => {
    const probes = await collectStatus(plan, selected, { forks: flags.forks, output, verbose: Boolean(flags.verbose), log: note });
    const health = analyzeMesh(plan, selected.map((n) => n.name), probes);
    if (flags.json) {
      // Watching prints one document per line (JSON Lines), so a consumer can read them as they come.
      process.stdout.write(`${JSON.stringify(statusDocument(health, probes), null, watching ? undefined : 2)}\n`);
    } else {
      const redraw = watching && process.stdout.isTTY;
      const header = watching ? `every ${seconds} s, ${new Date().toLocaleTimeString()} — Ctrl-C to stop\n\n` : '';
      process.stdout.write(`${redraw ? CLEAR_SCREEN : ''}${header}${formatStatus(health)}\n`);
    }
    return health.exitCode;
  };

  process.exitCode = seconds === undefined ? await round() : await repeatUntilInterrupted(seconds * 1000, round);
}
