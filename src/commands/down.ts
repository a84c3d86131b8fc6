import type { Command } from './commander.js';
import type { ApplyFlags } from './apply-action.js';
import { forksOption, inventoryArgHelp, jsonOption, limitOption, verboseOption } from './options.js';

export default function register(program: Command): void {
  program
    .command('down')
    .description('remove every managed WireGuard link (and its babeld interface) from the nodes')
    .argument('[inventory]', inventoryArgHelp)
    .addOption(limitOption())
    .addOption(forksOption())
    .addOption(jsonOption())
    .addOption(verboseOption())
    .action(async (inventoryArg: string | undefined, flags: ApplyFlags) =>
      (await import('./apply-action.js')).runApplyCommand(inventoryArg, 'down', flags),
    );
}
