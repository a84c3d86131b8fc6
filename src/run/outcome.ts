// What happened on each node, reduced to the words the summary and --json use. Pure.
import { babeldChanged, type ApplyReport, type BabeldAction, type FileChange, type LinkChanges } from '../agent/report.js';
import { isUnreachable } from '../ssh/index.js';
import type { TaskResult } from './task-result.js';

export type NodeResult = 'changed' | 'unchanged' | 'failed' | 'unreachable';

export interface NodeOutcome {
  node: string;
  result: NodeResult;
  links?: LinkChanges;
  files?: FileChange[];
  babeld?: BabeldAction;
  wireguard?: string;
  error?: string;
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
  const base = { node, links: r.links, files: r.files, babeld: r.babeld, wireguard: r.wireguard, ms: run.ms };
  if (!r.ok) return { ...base, result: 'failed', error: r.error ?? 'agent reported failure' };
  const changed =
    r.links.added.length + r.links.updated.length + r.links.removed.length > 0 || r.files.some((f) => f.changed) || babeldChanged(r.babeld);
  return { ...base, result: changed ? 'changed' : 'unchanged' };
}

export function allSucceeded(outcomes: NodeOutcome[]): boolean {
  return outcomes.every((o) => o.result === 'changed' || o.result === 'unchanged');
}
