// The state file on disk: read (validated), atomic 0600 write, and the lock beside it.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { formatState, parseState } from './codec.js';
import { withLockFile, type LockOptions } from './lock.js';
import type { FleetState } from './types.js';

/** The state at `path`; a missing file is an empty state, a damaged one an InputError naming it. */
export function readState(path: string): FleetState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { nodes: {} };
    throw new InputError(`cannot read state file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
  }
  return parseState(path, text);
}

/** Writes through a 0600 temp file in the same directory, fsync, rename: readers see old or new, never half. */
export function writeState(path: string, state: FleetState): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, formatState(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename itself is durable only once the directory is synced.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Runs `fn` holding `<path>.lock`, so two commands never interleave read-modify-write of the state. */
export function withStateLock<T>(path: string, fn: () => T | Promise<T>, opts?: LockOptions): Promise<T> {
  return withLockFile(`${path}.lock`, fn, opts);
}
