// The commands every comparison is made against: OpenSSH to some lab nodes at once.
import type { Lab, LabNode } from '../src/lab/index.js';

/** One `sh` starting `ssh … command` to each of `nodes` at once; fails if any ssh fails. */
export function opensshCommand(lab: Lab, nodes: readonly LabNode[], command: string): string[] {
  const ssh =
    `ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no -o StrictHostKeyChecking=yes ` +
    `-o UserKnownHostsFile=${lab.knownHosts} -i ${lab.keyFile}`;
  const hosts = nodes.map((n) => n.address).join(' ');
  const script = `pids=; for h in ${hosts}; do ${ssh} root@$h '${command}' & pids="$pids $!"; done; rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc`;
  return ['sh', '-c', script];
}
