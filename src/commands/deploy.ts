import type { Command } from 'commander';
import type { ApplyFlags } from './apply-action.js';
import { forksOption, inventoryArgHelp, jsonOption, limitOption, verboseOption } from './options.js';

export default function register(program: Command): void {
  program
    .command('deploy')
    .description('push the plan to every node and sync its WireGuard links and babeld')
    .argument('[inventory]', inventoryArgHelp)
    .addOption(limitOption())
    .addOption(forksOption())
    .option('--check', 'change nothing: show the links and files each node would change')
    .option('--retry-failed', 'only the nodes the last deploy failed on, could not reach or was interrupted on')
    .addOption(jsonOption())
    .addOption(verboseOption())
    .action(async (inventoryArg: string | undefined, flags: ApplyFlags & { check?: boolean }) =>
      (await import('./apply-action.js')).runApplyCommand(inventoryArg, flags.check ? 'check' : 'deploy', flags),
    );
}
