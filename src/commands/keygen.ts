// Registers keygen; its implementation (and the modules it needs) loads only when it runs.
import type { Command } from './commander.js';
import type { KeygenFlags } from './keygen-action.js';
import { inventoryArgHelp } from './options.js';

export default function register(program: Command): void {
  program
    .command('keygen')
    .description('generate WireGuard keys and SendPorts for nodes lacking them; print the public keys')
    .argument('[inventory]', inventoryArgHelp)
    .option('--rotate <node>', 'make a new key pair for this node (repeatable, or comma-separated)', collect)
    .option('--prune', 'drop state entries of nodes no longer in the inventory (otherwise their ports stay reserved)')
    .option(
      '--rotate-signing-key',
      'pull mode: make the next registry signing key (publish names it; publish --switch-signing-key uses it)',
    )
    .addHelpText(
      'after',
      '\nKeys live in the state file (mode 0600). Private keys are never printed; a second run changes nothing.\n' +
        "With mesh.pull set, keygen also makes the fleet's Ed25519 key that signs the registry (docs/pull-mode.md).",
    )
    .action(async (inventoryArg: string | undefined, flags: KeygenFlags) =>
      (await import('./keygen-action.js')).runKeygen(inventoryArg, flags),
    );
}

/** `--rotate a --rotate b` and `--rotate a,b` both rotate a and b. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((s) => s !== '')];
}
