// Thin wrappers over the programs the lab drives (ip, ssh-keygen) and over /proc.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { parsePrefix, type Prefix } from './cidr.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; never throws for a non-zero exit (the caller decides). */
export function run(file: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    // A program that exits without reading its input must not crash us with EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/** Runs a program and throws with its stderr when it fails. */
export async function mustRun(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(file, args, input);
  if (r.code !== 0) throw new Error(`${[file, ...args].join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `ip -batch`: one process for many commands; stops at the first failing line. */
export async function ipBatch(lines: readonly string[], json = false): Promise<string> {
  if (lines.length === 0) return '';
  return mustRun('ip', [...(json ? ['-j'] : []), '-batch', '-'], lines.join('\n') + '\n');
}

/** Every IPv4 and IPv6 route of the main table, as prefixes (for picking a free lab subnet). */
export async function routesInUse(): Promise<Prefix[]> {
  const out: Prefix[] = [];
  for (const family of ['-4', '-6']) {
    const routes = JSON.parse(await mustRun('ip', ['-j', family, 'route', 'show'])) as { dst: string }[];
    for (const { dst } of routes) {
      if (dst !== 'default') out.push(parsePrefix(dst));
    }
  }
  return out;
}

/** The device the kernel would send to each address through (`ip route get`). */
export async function routeDevices(addresses: readonly string[]): Promise<Map<string, string>> {
  const out = await ipBatch(
    addresses.map((a) => `route get ${a}`),
    true,
  );
  const devs = new Map<string, string>();
  for (const line of out.split('\n').filter((l) => l.trim())) {
    for (const r of JSON.parse(line) as { dst: string; dev?: string }[]) devs.set(r.dst, r.dev ?? '');
  }
  return devs;
}

export async function namespaceNames(): Promise<string[]> {
  const out = (await mustRun('ip', ['-j', 'netns', 'list'])).trim();
  return out ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

export async function linkNames(): Promise<string[]> {
  return (JSON.parse(await mustRun('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
}

/** The inode of a namespace file (`/run/netns/x`, `/proc/<pid>/ns/mnt`), or undefined if gone. */
export async function namespaceInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

const nsInode = (pid: string, kind: 'net' | 'mnt'): Promise<number | undefined> => namespaceInode(`/proc/${pid}/ns/${kind}`);

/** PIDs of every process living in one of the given network or mount namespaces (by inode). */
export async function processesIn(netInodes: ReadonlySet<number>, mntInodes: ReadonlySet<number>): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  const found: number[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      const [net, mnt] = await Promise.all([nsInode(pid, 'net'), nsInode(pid, 'mnt')]);
      if ((net !== undefined && netInodes.has(net)) || (mnt !== undefined && mntInodes.has(mnt))) found.push(Number(pid));
    }),
  );
  return found.sort((a, b) => a - b);
}

/** True while the process exists and is not a zombie (an exited child its parent has not reaped yet). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
