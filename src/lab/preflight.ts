// Early, clear errors before a lab touches anything: root, and every program the lab and the agent need.
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program -> Debian package that provides it. */
const PROGRAMS: Record<string, string> = {
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  wg: 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  babeld: 'babeld',
  ip: 'iproute2',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  mount: 'mount',
};

/** Looks in PATH and the sbin directories (root's PATH may lack them). */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function assertRoot(action: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${action} needs root (network namespaces, bridges, mounts): run it with sudo`);
  }
}

/** Throws naming every missing program and the apt-get line that installs them; returns sshd's path. */
export function assertPrograms(): { sshd: string } {
  const missing = Object.keys(PROGRAMS).filter((p) => !findProgram(p));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((p) => PROGRAMS[p]))].join(' ');
    throw new Error(`missing program${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} — install with: apt-get install -y ${packages}`);
  }
  return { sshd: findProgram('sshd')! };
}

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';

/**
 * Every wireguard-go holds an inotify instance, and a lab of N nodes runs N·(N−1) of them as root,
 * beyond Debian's default of 128 from 12 nodes on ("too many open files" in the middle of a deploy).
 * Raise the limit when it is too low (never lower it), with room for a second lab and the host's own.
 */
export function ensureInotifyInstances(nodes: number, log: (message: string) => void): void {
  const needed = 128 + 2 * nodes * (nodes - 1);
  const current = Number(readFileSync(INOTIFY_INSTANCES, 'utf8').trim());
  if (current >= needed) return;
  writeFileSync(INOTIFY_INSTANCES, `${needed}\n`);
  log(`raised fs.inotify.max_user_instances from ${current} to ${needed}: each wireguard-go needs one`);
}
