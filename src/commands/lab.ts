// Registers the lab commands; their implementation (and the lab modules) loads only when one runs.
import { type Command, InvalidArgumentError, Option } from './commander.js';
import { DEFAULT_NAME, DEFAULT_NODES } from '../lab/plan.js';
import type { LabFlags, UpFlags } from './lab-action.js';

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

/** Every lab command but `up` names an existing lab the same way. */
function existingLab(command: Command): Command {
  return command.option('--name <name>', 'lab name', DEFAULT_NAME).option('--dir <dir>', 'lab directory (default .lab/<name>)');
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
    .addOption(
      new Option('--address-family <families>', 'underlay address family; both (first: SSH) make the nodes dual-stack').choices([
        'ip4',
        'ip6',
        'ip4,ip6',
        'ip6,ip4',
      ]),
    )
    .addOption(new Option('--ip6', 'same as --address-family ip6').conflicts('addressFamily'))
    .addOption(
      new Option('--dual-stack', 'same as --address-family ip4,ip6: an IPv6 underlay beside the IPv4 one').conflicts([
        'addressFamily',
        'ip6',
      ]),
    )
    .option('--nat <nodes>', 'put these nodes (e.g. n3,n4) behind a NAT router of their own: SSH forwarded, no inbound UDP', (v: string) =>
      v.split(',').filter(Boolean),
    )
    .option('--inventory <path>', 'inventory to write', 'inventories/lab.yaml')
    .option('--dir <dir>', 'lab directory (default .lab/<name>)')
    .action(async (flags: UpFlags) => (await import('./lab-action.js')).runLabUp(flags));

  existingLab(lab.command('down'))
    .description('remove a lab: its processes, namespaces, links, directory and generated inventory (root)')
    .action(async (flags: LabFlags) => (await import('./lab-action.js')).runLabDown(flags));

  existingLab(lab.command('status'))
    .description('list lab nodes, their addresses and whether each sshd answers')
    .action(async (flags: LabFlags) => (await import('./lab-action.js')).runLabStatus(flags));

  existingLab(lab.command('exec'))
    .description("run a command in a lab node's view (its network namespace and private /run), e.g. wg show")
    .argument('<node>', 'node name, e.g. n1')
    .argument('<command...>', 'command and arguments (put -- before options)')
    .action(async (node: string, argv: string[], flags: LabFlags) => (await import('./lab-action.js')).runLabExec(node, argv, flags));
}
