// An exclusive lock file (O_EXCL) holding the owner's pid; a lock left by a dead process is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../errors.js';

export interface LockOptions {
  /** How long to wait for a live holder, in ms (default 10 s). */
  timeoutMs?: number;
  /** Told once, when a live holder makes us wait. */
  onWait?: (holderPid: number | undefined) => void;
}

const POLL_MS = 100;

export async function withLockFile<T>(lockPath: string, fn: () => T | Promise<T>, opts: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let told = false;
  for (;;) {
    if (tryCreate(lockPath)) break;
    const holder = readHolder(lockPath);
    if (holder !== undefined && !isAlive(holder)) {
      removeIfHeldBy(lockPath, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new InputError(
        `locked by process ${holder ?? '(unknown)'}; another rait-fleet command is using this state. ` +
          `If no such process runs, remove ${lockPath}`,
        { file: lockPath },
      );
    }
    if (!told) opts.onWait?.(holder);
    told = true;
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    removeIfHeldBy(lockPath, process.pid);
  }
}

/** The pid of a live process holding the lock, if any (a lock left by a dead process counts as free). */
export function liveHolder(lockPath: string): number | undefined {
  const holder = readHolder(lockPath);
  return holder !== undefined && isAlive(holder) ? holder : undefined;
}

function tryCreate(lockPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The holder's pid; undefined while the file is missing or still being written. */
function readHolder(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock only if `pid` still holds it (re-read right before unlinking narrows takeover races). */
function removeIfHeldBy(lockPath: string, pid: number): void {
  if (readHolder(lockPath) !== pid) return;
  try {
    unlinkSync(lockPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
