// `lab down`: remove everything a lab made — from lab.json when there is one, and from what the system
// shows under the lab's names (so a lab whose `up` died half-way is cleaned too).
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bridgeName, labNamespacePattern, nodeLinkPattern, validateName } from './plan.js';
import { restoreInotifyInstances } from './inotify.js';
import { assertRoot } from './preflight.js';
import { labDir, tryReadLab } from './store.js';
import { isInventoryOf } from './inventory.js';
import { defaultStatePath } from '../inventory/load.js';
import { lastRunPath } from '../run/last-run.js';
import { isNodeSshd } from './node.js';
import { ipBatch, isAlive, linkNames, namespaceInode, namespaceNames, processesIn } from './system.js';
import type { Lab } from './types.js';

export interface LabDownReport {
  killed: number[];
  namespaces: string[];
  links: string[];
  removed: string[];
}

/** Node namespaces of every lab on this machine, ours or not. */
const ANY_LAB_NODE = nodeLinkPattern('.+');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Recorded sshd PIDs that still run our sshd (the PID may have been reused by anything else). */
async function verifiedSshdPids(lab: Lab | undefined): Promise<number[]> {
  const pids: number[] = [];
  for (const node of lab?.nodes ?? []) {
    if (node.sshdPid !== null && (await isNodeSshd(node, node.sshdPid))) pids.push(node.sshdPid);
  }
  return pids;
}

/**
 * Network namespaces a node created for itself (`ip netns add` inside the node), seen through its
 * private /run. A process that sees the host's /run/netns (e.g. one started by `ip netns exec` from
 * the host) would name the host's namespaces: those are never the node's.
 */
async function nestedNamespaceInodes(pid: number, hostNetnsDir: Stats | undefined): Promise<(number | undefined)[]> {
  const dir = `/proc/${pid}/root/run/netns`;
  let names: string[];
  try {
    const seen = statSync(dir);
    if (hostNetnsDir && seen.dev === hostNetnsDir.dev && seen.ino === hostNetnsDir.ino) return [];
    names = readdirSync(dir);
  } catch {
    return []; // no private /run/netns in that node
  }
  return Promise.all(names.map((n) => namespaceInode(`${dir}/${n}`)));
}

function tryStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Every process of the lab: those in a node's network namespace, in a namespace a node made, or in a node's
 * mount namespace. They are ours because those namespaces are ours; the host's own are never included.
 */
async function labProcesses(namespaces: string[], sshdPids: number[]): Promise<number[]> {
  const ownNet = await namespaceInode('/proc/self/ns/net');
  const ownMnt = await namespaceInode('/proc/self/ns/mnt');
  const net = new Set<number>();
  const mnt = new Set<number>();
  const add = (set: Set<number>, own: number | undefined, inode: number | undefined): void => {
    if (inode !== undefined && inode !== own) set.add(inode);
  };
  for (const ns of namespaces) add(net, ownNet, await namespaceInode(`/run/netns/${ns}`));
  for (const pid of sshdPids) add(net, ownNet, await namespaceInode(`/proc/${pid}/ns/net`));
  // Each node's mount view (and the namespaces it made) comes from the processes found in its netns;
  // one process per mount namespace is enough to look through (a node runs N-1 wireguard-go).
  const hostNetnsDir = tryStat('/run/netns');
  const looked = new Set<number>();
  for (const pid of [...sshdPids, ...(await processesIn(net, new Set()))]) {
    const m = await namespaceInode(`/proc/${pid}/ns/mnt`);
    if (m === undefined || looked.has(m)) continue;
    looked.add(m);
    add(mnt, ownMnt, m);
    for (const inode of await nestedNamespaceInodes(pid, hostNetnsDir)) add(net, ownNet, inode);
  }
  return processesIn(net, mnt);
}

async function killAll(pids: number[]): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 60 && pids.some(isAlive); i++) await sleep(50);
  if (pids.some(isAlive)) {
    signal('SIGKILL');
    for (let i = 0; i < 40 && pids.some(isAlive); i++) await sleep(50);
  }
}

/** The default parent `.lab/` goes too once its last lab is gone. */
function removeIfEmpty(parent: string): void {
  if (basename(parent) !== '.lab') return;
  try {
    rmdirSync(parent);
  } catch {
    // other labs still there
  }
}

/** Tears a lab down; harmless when there is nothing left. `lab` is passed by `up` cleaning up after itself. */
export async function labDown(name: string, dir?: string, log: (m: string) => void = () => {}, known?: Lab): Promise<LabDownReport> {
  assertRoot('lab down');
  validateName(name);
  const path = known?.dir ?? labDir(name, dir);
  let lab = known;
  if (!lab) {
    try {
      lab = tryReadLab(name, path);
    } catch (err) {
      log(`${(err as Error).message}; cleaning up by the lab's names`);
    }
  }

  const ours = nodeLinkPattern(name);
  const namespaces = (await namespaceNames()).filter((n) => labNamespacePattern(name).test(n));
  const links = (await linkNames()).filter((l) => l === bridgeName(name) || ours.test(l));
  const killed = await labProcesses(namespaces, await verifiedSshdPids(lab));
  await killAll(killed);
  // Deleting the root-side veth end deletes its peer too; the bridge takes the loopback routes with it.
  await ipBatch([...links.map((l) => `link delete ${l}`), ...namespaces.map((n) => `netns delete ${n}`)]);
  restoreInotifyInstances(lab?.inotify, (await namespaceNames()).filter((n) => ANY_LAB_NODE.test(n)).length, log);

  const removed: string[] = [];
  if (lab && existsSync(lab.inventory) && isInventoryOf(readFileSync(lab.inventory, 'utf8'), lab)) {
    // The generated inventory names no state file: its keys and last-run record are the default ones
    // beside it, made for this lab's nodes only.
    const state = defaultStatePath(lab.inventory);
    for (const path of [lab.inventory, state, lastRunPath(state)]) {
      if (!existsSync(path)) continue;
      rmSync(path);
      removed.push(path);
    }
  }
  // Only a directory holding a lab record is removed: --dir could point anywhere.
  if (existsSync(join(path, 'lab.json'))) {
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
    removeIfEmpty(dirname(path));
  } else if (existsSync(path)) {
    log(`left ${path} in place: it has no lab.json`);
  }
  return { killed, namespaces, links, removed };
}
