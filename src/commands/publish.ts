// Registers publish; its implementation (and the modules it needs) loads only when it runs.
import { Option, type Command } from './commander.js';
import { InputError } from '../errors.js';
import type { PublishFlags } from './publish-action.js';
import { inventoryArgHelp } from './options.js';

export default function register(program: Command): void {
  program
    .command('publish')
    .description('pull mode: write the signed registry the nodes follow into a directory, to upload as it is')
    .argument('[inventory]', inventoryArgHelp)
    .requiredOption('-o, --out <dir>', 'the directory to write (nodes/<name>, registry, registry.sig)')
    .addOption(
      new Option('--expires-in <duration>', 'how long nodes accept this registry: 30m, 12h, 7d, …')
        .argParser(duration('--expires-in'))
        .default(7 * 86400, '7d'),
    )
    .option('--switch-signing-key', 'sign with the next signing key (keygen --rotate-signing-key), which becomes the current one')
    .addHelpText(
      'after',
      '\nEvery publish takes the next serial. Needs no network: upload the directory to a static web server or an\n' +
        'object store (aws s3 sync --delete DIR s3://bucket/path), where mesh.pull.url points. docs/pull-mode.md.',
    )
    .action(async (inventoryArg: string | undefined, flags: PublishFlags) =>
      (await import('./publish-action.js')).runPublish(inventoryArg, flags),
    );
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `30m`, `12h`, `7d`: seconds, from one minute to a year. */
function duration(flag: string) {
  return (value: string): number => {
    const m = /^([1-9][0-9]{0,5})([smhd])$/.exec(value);
    const seconds = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
    if (!(seconds >= 60 && seconds <= 366 * 86400)) {
      throw new InputError(`expected a duration from 60s to 366d such as 30m, 12h or 7d, got "${value}"`, { field: flag });
    }
    return seconds;
  };
}
