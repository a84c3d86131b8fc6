// deploy, deploy --check and down: plan from the whole inventory, run the agent on the selected
// nodes in parallel, print one outcome per node and set the exit code.
import { openFleet } from '../state/fleet.js';
import { loadTemplates } from '../mesh/templates.js';
import { planMesh } from '../mesh/plan.js';
import { selectNodes } from '../inventory/select.js';
import { EXIT_FAILED, EXIT_OK } from '../errors.js';
import type { OutputMode } from './fleet.js';
import { runAgentOnFleet } from './agent-task.js';
import { allSucceeded, outcomeOf } from './outcome.js';
import { formatCheck, formatSummary } from './summary.js';

export type ApplyMode = 'deploy' | 'check' | 'down';

export interface ApplyFlags {
  limit?: string;
  forks: number;
  json?: boolean;
  verbose?: boolean;
}

export async function runApplyCommand(inventoryArg: string | undefined, mode: ApplyMode, flags: ApplyFlags): Promise<void> {
  const note = (m: string) => process.stderr.write(`${m}\n`);
  const { inventory, state } = await openFleet(inventoryArg, note);
  // Every plan covers the whole inventory: --limit narrows where we push, never who is a peer.
  const plan = planMesh(inventory, state, loadTemplates(inventory));
  const selected = selectNodes(inventory, flags.limit);
  const output: OutputMode = flags.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
  const results = await runAgentOnFleet(plan, selected, mode, { forks: flags.forks, output, verbose: Boolean(flags.verbose), log: note });
  const outcomes = selected.map((n) => outcomeOf(n.name, results.get(n.name)!));
  const ok = allSucceeded(outcomes);
  if (flags.json) process.stdout.write(`${JSON.stringify({ command: mode, ok, nodes: outcomes }, null, 2)}\n`);
  else process.stdout.write(`${mode === 'check' ? formatCheck(outcomes) : formatSummary(outcomes)}\n`);
  process.exitCode = ok ? EXIT_OK : EXIT_FAILED;
}
