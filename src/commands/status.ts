// Registers status; its implementation (and the modules it needs) loads only when it runs.
import { Option, type Command } from './commander.js';
import type { StatusFlags } from './status-action.js';
import { forksOption, inventoryArgHelp, jsonOption, limitOption, positiveInt, verboseOption } from './options.js';

const DEFAULT_WATCH_SECONDS = '5';

export default function register(program: Command): void {
  program
    .command('status')
    .description('show the health of the mesh: nodes, the link matrix and problems with their fixes (exit 1 when degraded)')
    .argument('[inventory]', inventoryArgHelp)
    .addOption(limitOption())
    .addOption(forksOption())
    .addOption(jsonOption())
    .addOption(
      new Option('-w, --watch [seconds]', 'redraw every SECONDS until interrupted')
        .argParser(positiveInt('--watch'))
        .preset(DEFAULT_WATCH_SECONDS),
    )
    .option(
      '--matrix',
      'print the link matrix however wide it is (by default a matrix wider than the terminal gives way to a list of the links not up)',
    )
    .addOption(
      new Option(
        '--prometheus',
        "print the round in Prometheus' text format, for node_exporter's textfile collector; no progress",
      ).conflicts(['json', 'watch', 'matrix']),
    )
    .addOption(verboseOption())
    .action(async (inventoryArg: string | undefined, flags: StatusFlags) =>
      (await import('./status-action.js')).runStatus(inventoryArg, flags),
    );
}
