// Registers render; its implementation (and the modules it needs) loads only when it runs.
import { Option, type Command } from './commander.js';
import { NODE_FILES } from '../mesh/types.js';
import type { RenderFlags } from './render-action.js';
import { inventoryArgHelp } from './options.js';

export default function register(program: Command): void {
  program
    .command('render')
    .description('print the files deploy would push to a node (private key redacted)')
    .argument('[inventory]', inventoryArgHelp)
    .requiredOption('-n, --node <name>', 'the node whose files to print')
    .addOption(new Option('--file <name>', 'print only this file').choices(NODE_FILES))
    .addOption(new Option('--template <file>', "render this liquid template with the node's variables instead").conflicts('file'))
    .option('--show-secrets', 'print the private key instead of <redacted>')
    .addHelpText('after', '\nGenerates keys for nodes lacking them (saying so on stderr), like deploy.')
    .action(async (inventoryArg: string | undefined, flags: RenderFlags) =>
      (await import('./render-action.js')).runRender(inventoryArg, flags),
    );
}
