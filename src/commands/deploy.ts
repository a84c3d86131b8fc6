import { Option, type Command } from './commander.js';
import type { ApplyFlags } from './apply-action.js';
import { forksOption, inventoryArgHelp, jsonOption, limitOption, verboseOption } from './options.js';
import { parseMaxFail, parseSerial } from '../rollout/batches.js';
import { confirmSeconds, gateSeconds, type RolloutFlags } from '../rollout/flags.js';

export default function register(program: Command): void {
  program
    .command('deploy')
    .description('push the plan to every node and sync its WireGuard links and babeld')
    .argument('[inventory]', inventoryArgHelp)
    .addOption(limitOption())
    .addOption(forksOption())
    .option('--check', 'change nothing: show the links and files each node would change')
    .option('--retry-failed', 'only the nodes the last deploy failed on, could not reach or was interrupted on')
    .addOption(
      new Option('--serial <sizes>', 'deploy in batches (1,25%,100%: the last size repeats), each checked by a health gate').argParser(
        parseSerial,
      ),
    )
    .addOption(
      new Option('--max-fail <n|p%>', 'nodes of a batch that may fail its gate before the rollout stops (default 0)').argParser(
        parseMaxFail,
      ),
    )
    .addOption(new Option('--gate-timeout <seconds>', "how long a batch's links get to work (default 30)").argParser(gateSeconds))
    .addOption(
      new Option(
        '--confirm-timeout <seconds>',
        'a node undoes the deploy unless confirmed over a new connection within this time (default 30; 0: off)',
      ).argParser(confirmSeconds),
    )
    .addOption(jsonOption())
    .addOption(verboseOption())
    .action(async (inventoryArg: string | undefined, flags: ApplyFlags & RolloutFlags) =>
      (await import('./apply-action.js')).runApplyCommand(inventoryArg, flags.check ? 'check' : 'deploy', flags),
    );
}
