// One lab node: its private files, its sshd (in the node's netns + a private mount namespace), its banner.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readlink, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import type { Lab, LabNode } from './types.js';

/**
 * Inside a node its own lab files are bind-mounted here first: the node's private /tmp or /root may cover
 * the lab directory's real path (labs often live under /tmp or /root), and sshd must still find its files.
 */
const NODE_FILES = '/mnt';

export const hostKeyPath = (node: LabNode): string => join(node.dir, 'ssh_host_ed25519_key');
/** The node's IPv4 loopback address (without its /32), where its sshd listens too. */
export const loopback4Address = (node: LabNode): string => node.loopback4.split('/')[0]!;
const sshdConfigPath = (node: LabNode): string => join(node.dir, 'sshd_config');
const sshdLogPath = (node: LabNode): string => join(node.dir, 'sshd.log');

/** Pure: the node's sshd configuration. The home (/root) and /run it relies on are the node's private ones. */
export function sshdConfig(node: LabNode): string {
  return [
    // Behind NAT the router forwards SSH to the node's own address.
    `ListenAddress ${node.nat?.privateAddress ?? node.address}`,
    // And on the address babeld announces over the mesh: a node can be reached through another one
    // as a jump host, over the overlay, as a fleet whose nodes sit behind the mesh is.
    `ListenAddress ${loopback4Address(node)}`,
    'Port 22',
    `HostKey ${NODE_FILES}/ssh_host_ed25519_key`,
    'PidFile /run/sshd.pid',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // Benchmarks open many sessions at once; sshd's default (10:30:100) would drop some.
    'MaxStartups 200',
    'MaxSessions 64',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/**
 * Runs inside the node's netns, in a fresh private mount namespace: configures the node's links, gives it a
 * private /run, /tmp, /root and /var/log (bind mounts of its dirs; babeld logs to /var/log) and copy-on-write /etc and /var/lib (overlays, so
 * /etc/rait and babeld's /var/lib/babel-state are the node's own), then becomes sshd (exec keeps the PID).
 */
const NODE_SCRIPT = `set -e
dir=$1 address=$2 loopback=$3 loopback4=$4 dad=$5 sshd=$6 gateway=$7 second=$8
ip -batch - <<RFL_LINKS
link set lo up
address add $loopback dev lo
address add $loopback4 dev lo
address add $address dev eth0 $dad
link set eth0 up
RFL_LINKS
# Dual-stack: the other family's underlay address beside the first (IPv6 without duplicate detection).
case $second in *:*) ip address add "$second" dev eth0 nodad ;; ?*) ip address add "$second" dev eth0 ;; esac
# Behind NAT: out through the router (which has no way out of the lab itself).
[ -z "$gateway" ] || ip route add default via "$gateway"
echo 1 >/proc/sys/net/ipv4/ip_forward
echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
mount --bind "$dir" ${NODE_FILES}
mount --bind ${NODE_FILES}/run /run
mount --bind ${NODE_FILES}/root-home /root
mount --bind ${NODE_FILES}/tmp /tmp
mount --bind ${NODE_FILES}/var-log /var/log
mount -t overlay rfl-etc -o lowerdir=/etc,upperdir=${NODE_FILES}/etc/upper,workdir=${NODE_FILES}/etc/work /etc
mount -t overlay rfl-var-lib -o lowerdir=/var/lib,upperdir=${NODE_FILES}/var-lib/upper,workdir=${NODE_FILES}/var-lib/work /var/lib
exec "$sshd" -D -e -f ${NODE_FILES}/sshd_config
`;

/** Creates the node's private directories and files (its host key is made by the caller). */
export function writeNodeFiles(node: LabNode, authorizedKey: string): void {
  for (const sub of ['run/sshd', 'etc/upper', 'etc/work', 'var-lib/upper', 'var-lib/work', 'root-home/.ssh', 'tmp', 'var-log']) {
    mkdirSync(join(node.dir, sub), { recursive: true, mode: 0o700 });
  }
  chmodSync(join(node.dir, 'run'), 0o755);
  chmodSync(join(node.dir, 'run/sshd'), 0o755);
  chmodSync(join(node.dir, 'tmp'), 0o1777);
  writeFileSync(join(node.dir, 'root-home/.ssh/authorized_keys'), authorizedKey, { mode: 0o600 });
  writeFileSync(sshdConfigPath(node), sshdConfig(node), { mode: 0o644 });
}

/** Starts the node's sshd in the background. The spawned process execs into sshd, so its PID is sshd's. */
export function startNode(lab: Lab, node: LabNode, sshd: string): { pid: number; exited: Promise<number | null> } {
  const log = openSync(sshdLogPath(node), 'a', 0o600);
  const prefixLength = lab.subnet.split('/')[1];
  const args = [
    'netns',
    'exec',
    node.namespace,
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    NODE_SCRIPT,
    'rfl-node',
    node.dir,
    node.nat ? `${node.nat.privateAddress}/${node.nat.privateLength}` : `${node.address}/${prefixLength}`,
    node.loopback,
    node.loopback4,
    lab.addressFamily === 'ip6' ? 'nodad' : '',
    sshd,
    node.nat?.gateway ?? '',
    node.secondAddress && lab.second ? `${node.secondAddress}/${lab.second.subnet.split('/')[1]}` : '',
  ];
  try {
    const child = spawn('ip', args, { detached: true, stdio: ['ignore', log, log] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.unref();
    if (child.pid === undefined) throw new Error(`${node.name}: could not start sshd (ip netns exec)`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(log);
  }
}

/** True when `pid` is this node's sshd: an sshd whose view of its config file is the node's own file. */
export async function isNodeSshd(node: LabNode, pid: number): Promise<boolean> {
  try {
    // Not cmdline: sshd rewrites its argv into a title ("sshd: /usr/sbin/sshd -D … [listener]").
    const [exe, seen, ours] = await Promise.all([
      readlink(`/proc/${pid}/exe`),
      stat(`/proc/${pid}/root${NODE_FILES}/sshd_config`),
      stat(sshdConfigPath(node)),
    ]);
    return basename(exe) === 'sshd' && seen.ino === ours.ino && seen.dev === ours.dev;
  } catch {
    return false;
  }
}

function sshdLogTail(node: LabNode): string {
  try {
    return readFileSync(sshdLogPath(node), 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/** One attempt: TCP connect to port 22 and read the SSH identification line. */
export function readBanner(address: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let data = '';
    const socket = connect({ host: address, port: 22 });
    const done = (banner: string | undefined): void => {
      socket.destroy();
      resolve(banner);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const eol = data.indexOf('\n');
      if (eol >= 0) done(data.startsWith('SSH-') ? data.slice(0, eol).trim() : undefined);
    });
    socket.on('end', () => done(undefined));
  });
}

/**
 * Waits until the node's sshd answers with a banner; fails early if the process died. sshd writes its pid
 * file (the node's /run is `<dir>/run`) only once it listens: probing before that would leave an unanswered
 * ARP/ND entry behind and cost a second of retransmission.
 */
export async function waitForSshd(node: LabNode, exited: Promise<number | null>, timeoutMs = 20_000): Promise<string> {
  let dead: number | null | undefined;
  void exited.then((code) => (dead = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead !== undefined) throw new Error(`${node.name}: sshd exited (code ${dead}): ${sshdLogTail(node)}`);
    if (existsSync(join(node.dir, 'run/sshd.pid'))) {
      // It listens: give the banner the time left. sshd re-executes itself for each connection, which
      // on a loaded machine (or a VM reading / over 9p) takes seconds; a shorter wait only starts over.
      const banner = await readBanner(node.address, Math.max(1000, deadline - Date.now()));
      if (banner) return banner;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${node.name}: sshd did not answer on ${node.address}:22 within ${timeoutMs / 1000}s: ${sshdLogTail(node)}`);
}
