// Early, clear errors before a lab touches anything: root, and every program the lab and the agent need.
import { accessSync, constants } from 'node:fs';
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
    throw new Error(
      `missing program${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} — install with: apt-get install -y ${packages}`,
    );
  }
  return { sshd: findProgram('sshd')! };
}
