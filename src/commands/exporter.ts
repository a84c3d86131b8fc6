// Registers exporter; its implementation (an HTTP server and the status modules) loads only when it runs.
import { Option, type Command } from './commander.js';
import type { ExporterFlags } from './exporter-action.js';
import { parseListenAddress } from '../exporter/listen-address.js';
import { forksOption, inventoryArgHelp, limitOption, positiveInt } from './options.js';

/** Prometheus scrapes every 15-60 s; a round every 30 s keeps the data that fresh for a few SSH sessions a minute per node. */
const DEFAULT_INTERVAL_SECONDS = 30;

export default function register(program: Command): void {
  program
    .command('exporter')
    .description('serve the health of the mesh to Prometheus on /metrics, from a status round run every interval in the background')
    .argument('[inventory]', inventoryArgHelp)
    .addOption(
      new Option('--listen <address:port>', 'where to serve: 127.0.0.1:9455, [::1]:9455, or :9455 for every address')
        .argParser(parseListenAddress)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('-i, --interval <seconds>', 'start a status round this often (a slow round delays the next, never overlaps it)')
        .argParser(positiveInt('--interval'))
        .default(DEFAULT_INTERVAL_SECONDS),
    )
    .addOption(limitOption())
    .addOption(forksOption())
    .action(async (inventoryArg: string | undefined, flags: ExporterFlags) =>
      (await import('./exporter-action.js')).runExporter(inventoryArg, flags),
    );
}
