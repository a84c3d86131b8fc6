// One status round: ask the selected nodes, then compare their replies with the plan. `status` runs
// one (or one per --watch interval), `exporter` one per interval for as long as it serves.
import type { Node } from '../inventory/types.js';
import type { Plan } from '../mesh/types.js';
import { prepareFleet } from '../state/fleet.js';
import { stateLockHolder } from '../state/store.js';
import { planSelection } from '../run/plan-selection.js';
import { collectStatus, type CollectOptions } from './collect.js';
import { analyzeMesh } from './analyze.js';
import type { StatusRound } from './types.js';

/** What a round works from: the plan of the whole mesh, the nodes to ask, the state file (for its lock). */
export interface StatusTarget {
  plan: Plan;
  selected: Node[];
  statePath: string;
  /** Pull mode: the newest registry serial published; undefined without pull mode. */
  publishedSerial?: number;
}

export function prepareStatus(
  inventoryArg: string | undefined,
  limit: string | undefined,
  note: (m: string) => void,
): Promise<StatusTarget> {
  // Made before new keys are saved (a wrong --limit writes nothing); a --limit'ed node is still checked
  // against every peer, and its rendered files' hashes against the files on the node.
  return prepareFleet(inventoryArg, note, {}, (fleet) => ({
    ...planSelection(fleet, limit),
    statePath: fleet.inventory.statePath,
    ...(fleet.inventory.mesh.pull && { publishedSerial: fleet.state.signing?.serial ?? 0 }),
  }));
}

export async function statusRound({ plan, selected, statePath, publishedSerial }: StatusTarget, o: CollectOptions): Promise<StatusRound> {
  const started = performance.now();
  // A deploy holds the state lock for its whole run: one seen before or after the nodes were asked
  // may have changed links while they were read.
  const before = stateLockHolder(statePath);
  const probes = await collectStatus(plan, selected, o);
  const deployInProgress = before ?? stateLockHolder(statePath);
  const health = analyzeMesh(
    plan,
    selected.map((n) => n.name),
    probes,
    { deployInProgress, publishedSerial },
  );
  return { health, probes, seconds: Math.round(performance.now() - started) / 1000 };
}
