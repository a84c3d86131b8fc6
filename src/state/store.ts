// The state file on disk: read (validated), atomic 0600 write, and the lock beside it.
import { readIfExists, writeAtomic } from '../atomic-file.js';
import { formatState, parseState } from './codec.js';
import { liveHolder, withLockFile, type LockOptions } from './lock.js';
import type { FleetState } from './types.js';

/** The state at `path`; a missing file is an empty state, a damaged one an InputError naming it. */
export function readState(path: string): FleetState {
  return stateOf(path, readStateText(path));
}

/** The state file's text as it is now; undefined when there is none yet. */
export const readStateText = (path: string): string | undefined => readIfExists(path, 'state file');

/** The state in `text` (read from `path`, for messages); no text is an empty state. */
export const stateOf = (path: string, text: string | undefined): FleetState =>
  text === undefined ? { nodes: {} } : parseState(path, text);

/** Atomic and 0600: readers see the old state or the new one, never half. */
export function writeState(path: string, state: FleetState): void {
  writeAtomic(path, formatState(state));
}

/** The pid of a live command (deploy, down, keygen) holding the state's lock, if any. */
export const stateLockHolder = (path: string): number | undefined => liveHolder(`${path}.lock`);

/** Runs `fn` holding `<path>.lock`, so two commands never interleave read-modify-write of the state. */
export function withStateLock<T>(path: string, fn: () => T | Promise<T>, opts?: LockOptions): Promise<T> {
  return withLockFile(`${path}.lock`, fn, opts);
}
