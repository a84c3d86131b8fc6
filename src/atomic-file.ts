// Files the control machine reads and writes (inventory, templates, state, last-run record, lab
// records): read with errors naming the file, replaced atomically, by default owner-only.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';

/** The file's text, or undefined when it does not exist; other read errors name the file. */
export function readIfExists(path: string, what: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
  }
}

/** The file's text; any read error, a missing file too, names the file and `what` it is (`hint`: what to do then). */
export function readText(path: string, what: string, hint = ''): string {
  const text = readIfExists(path, what);
  if (text === undefined) throw new InputError(`no such ${what}${hint ? ` — ${hint}` : ''}`, { file: path });
  return text;
}

/**
 * Writes through a temp file in the same directory, fsync, rename: readers see old or new, never half.
 * `durable: false` skips the fsyncs, for files that can be written again (a registry of a thousand files).
 */
export function writeAtomic(path: string, text: string, mode = 0o600, durable = true): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, text);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (!durable) return;
  // The rename itself is durable only once the directory is synced.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
