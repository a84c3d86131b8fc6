// Ask every selected node for its status (connect, one agent round trip) and keep what came back.
// The imperative shell around analyze.ts.
import type { Node } from '../inventory/types.js';
import type { Plan } from '../mesh/types.js';
import type { OutputMode } from '../run/fleet.js';
import { runAgentOnFleet } from '../run/agent-task.js';
import { isUnreachable } from '../ssh/index.js';
import type { NodeProbe } from './types.js';

export interface CollectOptions {
  forks: number;
  output: OutputMode;
  verbose: boolean;
  /** Where the agent's `[#] command` trace goes in verbose mode. */
  log: (line: string) => void;
}

/** Status is read-only and cheap, so its agent run gets a short leash. */
const STATUS_TIMEOUT_MS = 60_000;

export async function collectStatus(plan: Plan, selected: Node[], o: CollectOptions): Promise<Map<string, NodeProbe>> {
  const results = await runAgentOnFleet(plan, selected, 'status', { ...o, timeoutMs: STATUS_TIMEOUT_MS });
  return new Map(
    selected.map((node): [string, NodeProbe] => {
      const r = results.get(node.name)!;
      return [node.name, r.ok ? { kind: 'report', report: r.value } : { kind: failureKind(r.error), reason: r.error.message }];
    }),
  );
}

/** "Unreachable" is reserved for SSH never getting through; everything later is a failure on the node. */
function failureKind(error: Error): 'unreachable' | 'failed' {
  return isUnreachable(error) ? 'unreachable' : 'failed';
}
