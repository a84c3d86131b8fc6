// What happened on each node, reduced to the words the summary and --json use. Pure.
import {
  babeldChanged,
  type ApplyReport,
  type BabeldAction,
  type FileChange,
  type LinkChanges,
  type PersistenceVia,
} from '../agent/report.js';
import { isUnreachable } from '../ssh/index.js';
import type { TaskResult } from './task-result.js';

/**
 * rolled-back: deployed, then put back on its previous plan (the rollout stopped); skipped: in a batch
 * the rollout never reached.
 */
export type NodeResult = 'changed' | 'unchanged' | 'failed' | 'unreachable' | 'rolled-back' | 'skipped';

export interface NodeOutcome {
  node: string;
  result: NodeResult;
  links?: LinkChanges;
  files?: FileChange[];
  babeld?: BabeldAction;
  wireguard?: string;
  error?: string;
  /** What the agent wants a person to know beside the result (e.g. a sysctl it raised). */
  notes?: string[];
  /** What brings the mesh back after the node reboots. */
  persistence?: PersistenceVia;
  ms: number;
}

export function outcomeOf(node: string, run: TaskResult<ApplyReport>): NodeOutcome {
  if (!run.ok) {
    return {
      node,
      result: isUnreachable(run.error) ? 'unreachable' : 'failed',
      error: run.error.message,
      ms: run.ms,
    };
  }
  const r = run.value;
  const base = {
    node,
    links: r.links,
    files: r.files,
    babeld: r.babeld,
    wireguard: r.wireguard,
    persistence: r.persistence,
    notes: r.notes,
    ms: run.ms,
  };
  if (!r.ok) return { ...base, result: 'failed', error: r.error ?? 'agent reported failure' };
  // The node did all it could; the links it could not make right fail it, with their reasons.
  if (r.links.failed.length > 0) {
    const n = r.links.failed.length;
    const reasons = r.links.failed.map((f) => `${f.name}: ${f.error}`).join('; ');
    return { ...base, result: 'failed', error: `${n} link${n === 1 ? '' : 's'} failed (the others are done) — ${reasons}` };
  }
  const changed =
    r.links.added.length + r.links.updated.length + r.links.removed.length > 0 || r.files.some((f) => f.changed) || babeldChanged(r.babeld);
  return { ...base, result: changed ? 'changed' : 'unchanged' };
}

export function allSucceeded(outcomes: NodeOutcome[]): boolean {
  return outcomes.every((o) => o.result === 'changed' || o.result === 'unchanged');
}
