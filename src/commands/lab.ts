import { Command, InvalidArgumentError, Option } from 'commander';
import type { AddressFamily } from '../inventory/types.js';
import { labDown, labExec, labStatus, labUp, readLab } from '../lab/index.js';
import { DEFAULT_NAME, DEFAULT_NODES } from '../lab/plan.js';
import { formatTable } from '../run/table.js';

const say = (message: string): void => void process.stderr.write(`lab: ${message}\n`);

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

interface UpFlags {
  nodes: number;
  name: string;
  subnet?: string;
  addressFamily?: AddressFamily;
  ip6?: boolean;
  inventory: string;
  dir?: string;
}

export default function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('run a real multi-node fleet on this machine (namespaces + sshd), for trying rait-fleet and for tests');

  lab
    .command('up')
    .description('create lab nodes (netns + private mounts + sshd each) and write an inventory for them (root)')
    .option('--nodes <n>', 'number of nodes', parseCount, DEFAULT_NODES)
    .option('--name <name>', 'lab name: 1-7 of [a-z0-9]; namespaces are rfl-<name>-<i>', DEFAULT_NAME)
    .option('--subnet <cidr>', 'underlay subnet (default: a free 10.231.<k>.0/24 or fd00:7261:6974:<k>::/64)')
    .addOption(new Option('--address-family <family>', 'underlay address family').choices(['ip4', 'ip6']))
    .addOption(new Option('--ip6', 'same as --address-family ip6').conflicts('addressFamily'))
    .option('--inventory <path>', 'inventory to write', 'inventories/lab.yaml')
    .option('--dir <dir>', 'lab directory (default .lab/<name>)')
    .action(async (flags: UpFlags) => {
      const up = await labUp({
        nodes: flags.nodes,
        name: flags.name,
        subnet: flags.subnet,
        addressFamily: flags.ip6 ? 'ip6' : flags.addressFamily,
        inventory: flags.inventory,
        dir: flags.dir,
        log: say,
      });
      process.stdout.write(
        `${formatTable(['node', 'address', 'loopback', 'sshd pid'], up.nodes.map((n) => [n.name, n.address, n.loopback, String(n.sshdPid)]))}\n` +
          `inventory: ${up.inventory}\nssh: ssh -F /dev/null -i ${up.keyFile} -o UserKnownHostsFile=${up.knownHosts} root@${up.nodes[0]!.address}\n` +
          `remove:    rait-fleet lab down --name ${up.name}${flags.dir ? ` --dir ${flags.dir}` : ''}\n`,
      );
    });

  lab
    .command('down')
    .description('remove a lab: its processes, namespaces, links, directory and generated inventory (root)')
    .option('--name <name>', 'lab name', DEFAULT_NAME)
    .option('--dir <dir>', 'lab directory (default .lab/<name>)')
    .action(async (flags: { name: string; dir?: string }) => {
      const r = await labDown(flags.name, flags.dir, say);
      const nothing = r.killed.length + r.namespaces.length + r.links.length + r.removed.length === 0;
      process.stdout.write(
        nothing
          ? `lab ${flags.name}: nothing to remove\n`
          : `lab ${flags.name} removed: ${r.killed.length} processes, ${r.namespaces.length} namespaces, ${r.links.length} links` +
              `${r.removed.length ? `, ${r.removed.join(', ')}` : ''}\n`,
      );
    });

  lab
    .command('status')
    .description('list lab nodes, their addresses and whether each sshd answers')
    .option('--name <name>', 'lab name', DEFAULT_NAME)
    .option('--dir <dir>', 'lab directory (default .lab/<name>)')
    .action(async (flags: { name: string; dir?: string }) => {
      const current = readLab(flags.name, flags.dir);
      const rows = await labStatus(current);
      process.stdout.write(
        `lab ${current.name}: ${current.addressFamily} ${current.subnet} on ${current.bridge}, inventory ${current.inventory}\n` +
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
    });

  lab
    .command('exec')
    .description("run a command in a lab node's view (its network namespace and private /run), e.g. wg show")
    .argument('<node>', 'node name, e.g. n1')
    .argument('<command...>', 'command and arguments (put -- before options)')
    .option('--name <name>', 'lab name', DEFAULT_NAME)
    .option('--dir <dir>', 'lab directory (default .lab/<name>)')
    .action(async (node: string, argv: string[], flags: { name: string; dir?: string }) => {
      const r = await labExec(readLab(flags.name, flags.dir), node, argv);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.exitCode = r.code ?? 1;
    });
}
