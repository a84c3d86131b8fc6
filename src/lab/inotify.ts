// The one machine-wide setting a lab changes: fs.inotify.max_user_instances. Raised by `up` when too
// low for the lab's wireguard-go processes, and put back by `down` when nobody else changed it since.
import { readFileSync, writeFileSync } from 'node:fs';

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';

/** What `up` found and set, recorded in lab.json. */
export interface InotifyChange {
  from: number;
  to: number;
}

/**
 * Every wireguard-go holds an inotify instance, and a lab of N nodes runs N·(N−1) of them as root,
 * beyond Debian's default of 128 from 12 nodes on ("too many open files" in the middle of a deploy).
 * The limit leaves room for a second lab of that size and the host's own.
 */
export const inotifyNeeded = (nodes: number): number => 128 + 2 * nodes * (nodes - 1);

/**
 * The value `down` puts back, or undefined to leave it: someone else changed it since `up`, or it was
 * not raised. Labs still up (`nodesStillUp` nodes in all) keep what they need.
 */
export function restoredLimit(change: InotifyChange | undefined, current: number, nodesStillUp: number): number | undefined {
  if (!change || current !== change.to) return undefined;
  const target = nodesStillUp > 0 ? Math.max(change.from, inotifyNeeded(nodesStillUp)) : change.from;
  return target < current ? target : undefined;
}

const readLimit = (): number => Number(readFileSync(INOTIFY_INSTANCES, 'utf8').trim());

/** Raises the limit when it is too low for a lab of `nodes` (never lowers it); returns the change made. */
export function raiseInotifyInstances(nodes: number, log: (message: string) => void): InotifyChange | undefined {
  const needed = inotifyNeeded(nodes);
  const current = readLimit();
  if (current >= needed) return undefined;
  writeFileSync(INOTIFY_INSTANCES, `${needed}\n`);
  log(`raised fs.inotify.max_user_instances from ${current} to ${needed}: each wireguard-go needs one`);
  return { from: current, to: needed };
}

export function restoreInotifyInstances(change: InotifyChange | undefined, nodesStillUp: number, log: (message: string) => void): void {
  const current = readLimit();
  const target = restoredLimit(change, current, nodesStillUp);
  if (target === undefined) return;
  writeFileSync(INOTIFY_INSTANCES, `${target}\n`);
  log(`put fs.inotify.max_user_instances back from ${current} to ${target}`);
}
