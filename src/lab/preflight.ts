// Early, clear errors before a lab touches anything: root, and every program the lab and the agent need.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
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
function findProgram(name: string): string | undefined {
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

/**
 * Whether the running kernel has WireGuard (loaded, built in, or a module it can load), read without
 * creating anything. The agent then uses kernel WireGuard and wireguard-go is not needed.
 */
export function kernelHasWireGuard(modulesDir = `/lib/modules/${release()}`, sysModule = '/sys/module/wireguard'): boolean {
  if (existsSync(sysModule)) return true;
  for (const file of ['modules.builtin', 'modules.dep']) {
    try {
      if (/(^|\/)wireguard\.ko(\.[a-z]+)?(:|$)/m.test(readFileSync(join(modulesDir, file), 'utf8'))) return true;
    } catch {
      // no such file: not this way
    }
  }
  return false;
}

export function assertRoot(action: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${action} needs root (network namespaces, bridges, mounts): run it with sudo`);
  }
}

/**
 * Throws naming every missing program and the apt-get line that installs them; returns sshd's path.
 * wireguard-go is required only when the kernel has no WireGuard.
 */
export function assertPrograms(): { sshd: string } {
  const kernelWireGuard = kernelHasWireGuard();
  const missing = Object.keys(PROGRAMS).filter((p) => !(p === 'wireguard-go' && kernelWireGuard) && !findProgram(p));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((p) => PROGRAMS[p]))].join(' ');
    throw new Error(
      `missing program${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} — install with: apt-get install -y ${packages}`,
    );
  }
  return { sshd: findProgram('sshd')! };
}
