// lab's work, loaded only when a lab command runs (see lab.ts).
import type { AddressFamily } from '../inventory/types.js';
import { labDown, labExec, labStatus, labUp, readLab } from '../lab/index.js';
import { formatTable } from '../output/table.js';

const say = (message: string): void => void process.stderr.write(`lab: ${message}\n`);

export interface UpFlags {
  nodes: number;
  name: string;
  subnet?: string;
  addressFamily?: AddressFamily | 'ip4,ip6' | 'ip6,ip4';
  ip6?: boolean;
  dualStack?: boolean;
  nat?: string[];
  inventory: string;
  dir?: string;
}

/** Which lab: --name and --dir, shared by down, status and exec. */
export interface LabFlags {
  name: string;
  dir?: string;
}

export async function runLabUp(flags: UpFlags): Promise<void> {
  const up = await labUp({
    nodes: flags.nodes,
    name: flags.name,
    subnet: flags.subnet,
    addressFamily: flags.ip6 ? 'ip6' : (flags.addressFamily?.split(',')[0] as AddressFamily | undefined),
    dualStack: flags.dualStack || flags.addressFamily?.includes(','),
    nat: flags.nat,
    inventory: flags.inventory,
    dir: flags.dir,
    log: say,
  });
  process.stdout.write(
    `${formatTable(
      ['node', 'address', 'loopback', 'sshd pid'],
      up.nodes.map((n) => [n.name, n.address, n.loopback, String(n.sshdPid)]),
    )}\n` +
      `inventory: ${up.inventory}\nssh: ssh -F /dev/null -i ${up.keyFile} -o UserKnownHostsFile=${up.knownHosts} root@${up.nodes[0]!.address}\n` +
      `remove:    rait-fleet lab down --name ${up.name}${flags.dir ? ` --dir ${flags.dir}` : ''}\n`,
  );
}

export async function runLabDown(flags: LabFlags): Promise<void> {
  const r = await labDown(flags.name, flags.dir, say);
  const nothing = r.killed.length + r.namespaces.length + r.links.length + r.removed.length === 0;
  process.stdout.write(
    nothing
      ? `lab ${flags.name}: nothing to remove\n`
      : `lab ${flags.name} removed: ${r.killed.length} processes, ${r.namespaces.length} namespaces, ${r.links.length} links` +
          `${r.removed.length ? `, ${r.removed.join(', ')}` : ''}\n`,
  );
}

export async function runLabStatus(flags: LabFlags): Promise<void> {
  const current = readLab(flags.name, flags.dir);
  const rows = await labStatus(current);
  process.stdout.write(
    `lab ${current.name}: ${current.addressFamily} ${current.subnet}${current.second ? ` and ${current.second.subnet}` : ''} on ${current.bridge}, inventory ${current.inventory}\n` +
      formatTable(
        ['node', 'namespace', 'address', 'loopback', 'sshd pid', 'answers'],
        rows.map((s) => [
          s.node,
          s.namespaceExists ? s.namespace : `${s.namespace} (missing)`,
          s.address,
          s.loopback,
          `${s.sshdPid ?? '-'} ${s.sshdAlive ? 'alive' : 'dead'}`,
          s.banner ?? 'no',
        ]),
      ) +
      '\n',
  );
  if (rows.some((s) => !s.banner)) process.exitCode = 1;
}

export async function runLabExec(node: string, argv: string[], flags: LabFlags): Promise<void> {
  const r = await labExec(readLab(flags.name, flags.dir), node, argv);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code ?? 1;
}
