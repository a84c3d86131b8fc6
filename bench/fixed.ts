// Fixed costs of the control side: what one command costs whatever the fleet's size, measured on a
// lab's inventory against the floors of one node (Node.js doing nothing, OpenSSH and our own ssh2
// stack running `true`). A no-op `deploy --limit n1` is the smallest real job.
import type { Lab } from '../src/lab/index.js';
import { interleaved, type Case, type CostSample } from './rounds.js';
import { opensshCommand } from './floors.js';

export const FIXED_CASES = [
  ['node', 'node -e 0 (the runtime alone)'],
  ['version', 'rait-fleet --version'],
  ['render', 'rait-fleet render --node n1'],
  ['limit', 'rait-fleet deploy --limit n1 (no-op)'],
  ['statusOne', 'rait-fleet status --limit n1'],
  ['sshTrue', 'OpenSSH: ssh n1 true'],
  ['stackTrue', 'stack floor: ssh2 to n1, true'],
] as const;
export type FixedKey = (typeof FIXED_CASES)[number][0];

export interface FixedPaths {
  node: string;
  cli: string;
  stackFloor: string;
}

/** `rounds` interleaved rounds of every fixed-cost case on `lab` (already deployed: the deploy is a no-op). */
export async function benchFixed(lab: Lab, p: FixedPaths, rounds: number, log: (m: string) => void): Promise<Map<FixedKey, CostSample>> {
  const n1 = lab.nodes[0]!;
  const inv = lab.inventory;
  const cli = (...args: string[]) => [p.node, p.cli, ...args];
  const cases: (Case & { key: FixedKey })[] = [
    { key: 'node', argv: [p.node, '-e', '0'] },
    { key: 'version', argv: cli('--version') },
    { key: 'render', argv: cli('render', inv, '--node', n1.name) },
    { key: 'limit', argv: cli('deploy', inv, '--limit', n1.name) },
    { key: 'statusOne', argv: cli('status', inv, '--limit', n1.name), ok: [0, 1] },
    { key: 'sshTrue', argv: opensshCommand(lab, [n1], 'true') },
    { key: 'stackTrue', argv: [p.node, p.stackFloor, inv, n1.name] },
  ];
  const results = await interleaved(cases, rounds, { sshdPids: [n1.sshdPid!], log });
  return results as Map<FixedKey, CostSample>;
}
