// publish's work, loaded only when publish runs (see publish.ts).
import { resolve } from 'node:path';
import { publishRegistry } from '../registry/publish.js';

export interface PublishFlags {
  out: string;
  expiresIn: number;
  switchSigningKey?: boolean;
}

export async function runPublish(inventoryArg: string | undefined, flags: PublishFlags): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  const out = resolve(flags.out);
  const started = performance.now();
  const r = await publishRegistry(
    inventoryArg,
    { out, expiresIn: flags.expiresIn, switchSigningKey: Boolean(flags.switchSigningKey) },
    log,
  );
  const p = r.publication;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      `published registry serial ${p.serial} for ${r.nodes} nodes in ${out} (${mib(r.bytes)}; a node fetches at most ${kib(r.largestNode)}) in ${seconds} s`,
      `signed by ${p.signer}${p.nextSigner ? `; names the next signing key ${p.nextSigner}` : ''}`,
      `expires ${new Date(p.expires * 1000).toISOString()}`,
      'upload the directory as it is, e.g. aws s3 sync --delete DIR s3://bucket/path (docs/pull-mode.md)',
      '',
    ].join('\n'),
  );
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
