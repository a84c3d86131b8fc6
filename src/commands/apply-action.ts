// deploy, deploy --check and down, loaded only when one runs (see deploy.ts, down.ts): plan from the
// whole inventory, run the agent on the selected nodes in parallel, print one outcome per node and set
// the exit code.
import { runWithFleetLock, type Fleet } from '../state/fleet.js';
import type { Inventory } from '../inventory/types.js';
import { EXIT_FAILED, EXIT_OK } from '../errors.js';
import { progressOutput } from '../run/fleet.js';
import { planSelection, type PlanSelection } from '../run/plan-selection.js';
import { runAgentOnFleet } from '../run/agent-task.js';
import { allSucceeded, outcomeOf } from '../run/outcome.js';
import { formatCheck, formatSummary } from '../run/summary.js';
import { formatRollout } from '../rollout/summary.js';
import { lastRunPath, recordEnd, recordStart, selectFailed } from '../run/last-run.js';
import { rolloutOptions, type RolloutFlags } from '../rollout/flags.js';
import type { RolloutOptions } from '../rollout/run.js';

export type ApplyMode = 'deploy' | 'check' | 'down';

export interface ApplyFlags extends RolloutFlags {
  limit?: string;
  forks: number;
  json?: boolean;
  verbose?: boolean;
  /** Only the nodes whose last deploy failed, was unreachable or was interrupted (within --limit). */
  retryFailed?: boolean;
}

export async function runApplyCommand(inventoryArg: string | undefined, mode: ApplyMode, flags: ApplyFlags): Promise<void> {
  const note = (m: string) => process.stderr.write(`${m}\n`);
  // Flags that do not fit together are refused before the inventory is read.
  const rollout = mode === 'down' ? undefined : rolloutOptions(flags);
  // The state lock is held for the whole run, so two deploys/downs of one fleet never interleave their
  // writes to the nodes; --limit and the templates are checked before the state is written.
  return runWithFleetLock(
    inventoryArg,
    note,
    (fleet) => prepareApply(fleet, flags.limit),
    (p) => applyPrepared(p, mode, flags, note, rollout),
  );
}

interface PreparedApply extends PlanSelection {
  inventory: Inventory;
}

function prepareApply(fleet: Fleet, limit: string | undefined): PreparedApply {
  return { inventory: fleet.inventory, ...planSelection(fleet, limit) };
}

async function applyPrepared(
  { inventory, plan, selected: limited }: PreparedApply,
  mode: ApplyMode,
  flags: ApplyFlags,
  note: (m: string) => void,
  rollout: RolloutOptions | undefined,
): Promise<void> {
  const record = lastRunPath(inventory.statePath);
  const selected = flags.retryFailed ? selectFailed(record, limited) : limited;
  if (flags.retryFailed && selected.length === 0) {
    note(`nothing to retry: the last deploy succeeded on ${flags.limit ? 'every selected node' : 'every node'}`);
    if (flags.json) process.stdout.write(`${JSON.stringify({ command: mode, ok: true, nodes: [] }, null, 2)}\n`);
    return;
  }
  if (mode === 'deploy')
    recordStart(
      record,
      selected.map((n) => n.name),
    );
  const output = progressOutput(Boolean(flags.json));
  const ctx = { forks: flags.forks, output, verbose: Boolean(flags.verbose), log: note };
  if (mode === 'deploy') {
    const { runRollout } = await import('../rollout/run.js');
    const { outcomes, report, exitCode } = await runRollout(plan, selected, rollout!, ctx);
    recordEnd(record, outcomes);
    if (flags.json)
      process.stdout.write(
        `${JSON.stringify({ command: mode, ok: exitCode === EXIT_OK, exitCode, nodes: outcomes, rollout: report }, null, 2)}\n`,
      );
    else process.stdout.write(`${[formatSummary(outcomes), ...formatRollout(report)].join('\n')}\n`);
    process.exitCode = exitCode;
    return;
  }
  const results = await runAgentOnFleet(plan, selected, mode, ctx);
  const outcomes = selected.map((n) => outcomeOf(n.name, results.get(n.name)!));
  const ok = allSucceeded(outcomes);
  if (flags.json) process.stdout.write(`${JSON.stringify({ command: mode, ok, nodes: outcomes }, null, 2)}\n`);
  else process.stdout.write(`${mode === 'check' ? formatCheck(outcomes) : formatSummary(outcomes)}\n`);
  process.exitCode = ok ? EXIT_OK : EXIT_FAILED;
}
