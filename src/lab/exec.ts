// Run a command in a node's view (its netns + private mounts) by entering its sshd's namespaces.
import { run, type RunResult } from './system.js';
import { isNodeSshd } from './node.js';
import type { Lab } from './types.js';

export async function labExec(lab: Lab, node: string, argv: string[]): Promise<RunResult> {
  const n = lab.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${lab.name} has no node ${node} (it has ${lab.nodes.map((x) => x.name).join(', ')})`);
  // Never enter the namespaces of whatever process reused a dead sshd's PID.
  if (n.sshdPid === null || !(await isNodeSshd(n, n.sshdPid)))
    throw new Error(`${lab.name}/${node}: its sshd (pid ${n.sshdPid}) is not running`);
  return run('nsenter', ['-t', String(n.sshdPid), '-n', '-m', '--', ...argv]);
}
