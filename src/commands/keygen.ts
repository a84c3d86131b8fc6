import type { Command } from 'commander';
import { formatTable } from '../run/table.js';
import { openFleet } from '../state/fleet.js';
import { inventoryArgHelp } from './options.js';

interface KeygenFlags {
  rotate?: string[];
  prune?: boolean;
}

export default function register(program: Command): void {
  program
    .command('keygen')
    .description('generate WireGuard keys and SendPorts for nodes lacking them; print the public keys')
    .argument('[inventory]', inventoryArgHelp)
    .option('--rotate <node>', 'make a new key pair for this node (repeatable, or comma-separated)', collect)
    .option('--prune', 'drop state entries of nodes no longer in the inventory (otherwise their ports stay reserved)')
    .addHelpText('after', '\nKeys live in the state file (mode 0600). Private keys are never printed; a second run changes nothing.')
    .action(async (inventoryArg: string | undefined, flags: KeygenFlags) => {
      const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
      const { inventory, state } = await openFleet(inventoryArg, log, { rotate: flags.rotate, prune: flags.prune });
      const rows = inventory.nodes.map((n) => {
        const keys = state.nodes[n.name]!;
        return [n.name, keys.publicKey, String(keys.sendPort)];
      });
      process.stdout.write(`${formatTable(['node', 'public key', 'SendPort'], rows)}\n`);
    });
}

/** `--rotate a --rotate b` and `--rotate a,b` both rotate a and b. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((s) => s !== '')];
}
