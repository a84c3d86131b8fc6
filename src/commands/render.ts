// Registers render; its implementation (and the modules it needs) loads only when it runs.
import type { Command } from 'commander';
import { Option } from 'commander';
import type { RenderFlags } from './render-action.js';
import { inventoryArgHelp } from './options.js';

/** The files render can print, in the order it prints them. */
export const FILES = ['rait.conf', 'peers.conf', 'babeld.conf'] as const;

export default function register(program: Command): void {
  program
    .command('render')
    .description('print the files deploy would push to a node (private key redacted)')
    .argument('[inventory]', inventoryArgHelp)
    .requiredOption('-n, --node <name>', 'the node whose files to print')
    .addOption(new Option('--file <name>', 'print only this file').choices(FILES))
    .addOption(new Option('--template <file>', "render this liquid template with the node's variables instead").conflicts('file'))
    .option('--show-secrets', 'print the private key instead of <redacted>')
    .addHelpText('after', '\nGenerates keys for nodes lacking them (saying so on stderr), like deploy.')
    .action(async (inventoryArg: string | undefined, flags: RenderFlags) =>
      (await import('./render-action.js')).runRender(inventoryArg, flags),
    );
}
