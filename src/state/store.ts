// The state file on disk: read (validated), atomic 0600 write, and the lock beside it.
import { readIfExists, writeAtomic } from '../atomic-file.js';
import { formatState, parseState } from './codec.js';
import { withLockFile, type LockOptions } from './lock.js';
import type { FleetState } from './types.js';

/** The state at `path`; a missing file is an empty state, a damaged one an InputError naming it. */
export function readState(path: string): FleetState {
  const text = readIfExists(path, 'state file');
  return text === undefined ? { nodes: {} } : parseState(path, text);
}

/** Atomic and 0600: readers see the old state or the new one, never half. */
export function writeState(path: string, state: FleetState): void {
  writeAtomic(path, formatState(state));
}

/** Runs `fn` holding `<path>.lock`, so two commands never interleave read-modify-write of the state. */
export function withStateLock<T>(path: string, fn: () => T | Promise<T>, opts?: LockOptions): Promise<T> {
  return withLockFile(`${path}.lock`, fn, opts);
}
