// What a lab node has on a real kernel — its links with their kind and master, namespaces, policy
// rules, UDP sockets, babeld processes — for the kernel suite (test/kernel, run in the VM of
// scripts/kernel-vm.sh by `npm run test:kernel`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { labExec, type Lab } from '../../src/lab/index.js';

/** The directories where sshd's default PATH (what the agent runs with) and ours look for programs. */
const PROGRAM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const HOW = 'run it with `npm run test:kernel` (scripts/kernel-vm.sh --without wireguard-go)';

/**
 * Fails loudly unless this runs as root where only kernel WireGuard can make a link: a kernel with
 * the wireguard and vrf modules, and no wireguard-go anywhere the agent or we could find one. So the
 * suite can never pass on wireguard-go, as it would on the development machine.
 */
export function assertKernelOnly(): string {
  assert.equal(process.getuid?.(), 0, `the kernel suite runs as root: ${HOW}`);
  const dirs = new Set([...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...PROGRAM_DIRS]);
  const wgGo = [...dirs].map((d) => join(d, 'wireguard-go')).filter((p) => existsSync(p));
  assert.deepEqual(wgGo, [], `wireguard-go is installed here, so the agent could use it instead of kernel WireGuard: ${HOW}`);
  for (const module of ['wireguard', 'vrf']) {
    spawnSync('modprobe', [module], { stdio: 'ignore' });
    assert.ok(existsSync(`/sys/module/${module}`), `this kernel has no ${module} module: ${HOW}`);
  }
  return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
}

/** Runs argv on a node (in network namespace `ns` of the node when given); fails on a non-zero exit. */
export async function onNode(lab: Lab, node: string, argv: string[], ns?: string): Promise<string> {
  const full = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
  const r = await labExec(lab, node, full);
  assert.equal(r.code, 0, `${node}: ${full.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface LinkInfo {
  name: string;
  index: number;
  /** linkinfo kind (wireguard, vrf, veth, …); "-" for none (lo). */
  kind: string;
  master: string;
  group: string;
  table?: number;
}

/** Every link of a node's network namespace (or of namespace `ns` of the node), as `ip -d -j link` says. */
export async function linksOf(lab: Lab, node: string, ns?: string): Promise<LinkInfo[]> {
  const out = await onNode(lab, node, ['ip', ...(ns ? ['-n', ns] : []), '-d', '-j', 'link', 'show']);
  type Raw = {
    ifname?: string;
    ifindex: number;
    master?: string;
    group?: string | number;
    linkinfo?: { info_kind?: string; info_data?: { table?: number } };
  };
  // Entries without a name are link-netns peers: not links of this namespace.
  return (JSON.parse(out || '[]') as Raw[]).flatMap((l) =>
    l.ifname === undefined
      ? []
      : [
          {
            name: l.ifname,
            index: l.ifindex,
            kind: l.linkinfo?.info_kind ?? '-',
            master: l.master ?? '-',
            group: String(l.group ?? 'default'),
            ...(l.linkinfo?.info_data?.table === undefined ? {} : { table: l.linkinfo.info_data.table }),
          },
        ],
  );
}

/** The mesh's managed links (prefix rait, ifgroup 54) of a node, or of its namespace `ns`. */
export async function managedOf(lab: Lab, node: string, ns?: string): Promise<LinkInfo[]> {
  return (await linksOf(lab, node, ns)).filter((l) => l.name.startsWith('rait') && l.group === '54');
}

/** What the node has outside the mesh's links, compared step by step with what it had before the first deploy. */
export interface NodeSnapshot {
  /** `name kind master`, sorted, managed links left out (they are checked one by one). */
  links: string[];
  /** Named network namespaces. */
  netns: string[];
  /** `4 rule` / `6 rule` without the priority, sorted. */
  rules: string[];
  /** Unreachable routes of every table but babeld's own (a retracted route), `4 route` / `6 route`, sorted. */
  unreachable: string[];
}

export const linkLine = (l: Pick<LinkInfo, 'name' | 'kind' | 'master'>): string => `${l.name} ${l.kind} ${l.master}`;

export async function snapshot(lab: Lab, node: string): Promise<NodeSnapshot> {
  const rules = async (family: '4' | '6'): Promise<string[]> =>
    (await onNode(lab, node, ['ip', `-${family}`, 'rule', 'show']))
      .split('\n')
      .filter(Boolean)
      .map((l) => `${family} ${l.replace(/^\d+:\s*/, '').trim()}`);
  const unreachable = async (family: '4' | '6'): Promise<string[]> =>
    (await onNode(lab, node, ['ip', `-${family}`, 'route', 'show', 'table', 'all', 'type', 'unreachable']))
      .split('\n')
      .filter((l) => l !== '' && !l.includes(' proto babel '))
      .map((l) => `${family} ${l.trim()}`);
  const [links, netns, rules4, rules6, unreachable4, unreachable6] = await Promise.all([
    linksOf(lab, node),
    onNode(lab, node, ['ip', 'netns', 'list']),
    rules('4'),
    rules('6'),
    unreachable('4'),
    unreachable('6'),
  ]);
  return {
    links: links
      .filter((l) => !(l.name.startsWith('rait') && l.group === '54'))
      .map(linkLine)
      .sort(),
    netns: netns
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean)
      .sort(),
    rules: [...rules4, ...rules6].sort(),
    unreachable: [...unreachable4, ...unreachable6].sort(),
  };
}

/** The rules the kernel adds with the first VRF device of a namespace, and keeps (see docs/kernel-vm.md). */
export const L3MDEV_RULES = ['4 from all lookup [l3mdev-table]', '6 from all lookup [l3mdev-table]'];

/** The UDP ports listening in a node's namespace (`ss -uln`). */
export async function udpPorts(lab: Lab, node: string, ns?: string): Promise<Set<number>> {
  const out = await onNode(lab, node, ['ss', '-H', '-u', '-l', '-n'], ns);
  // State, Recv-Q, Send-Q, local address:port (0.0.0.0:50001, [::]:50001, *:50001), peer.
  const locals = out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/)[3] ?? '');
  return new Set(locals.map((a) => Number(a.slice(a.lastIndexOf(':') + 1))));
}

/** The latest handshake of every WireGuard interface in a node's namespace: name -> unix time (0: none). */
export async function handshakes(lab: Lab, node: string, ns?: string): Promise<Map<string, number>> {
  const out = await onNode(lab, node, ['wg', 'show', 'all', 'latest-handshakes'], ns);
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [ifname, , ts] = l.split('\t');
        return [ifname!, Number(ts)] as const;
      }),
  );
}

/** The inode link (`net:[…]`) of a node's network namespace, or of its namespace `ns`. */
export async function netnsId(lab: Lab, node: string, ns?: string): Promise<string> {
  return (await onNode(lab, node, ['readlink', '/proc/self/ns/net'], ns)).trim();
}

const readlinkOr = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/** Processes named `comm` anywhere on this machine, with their network namespace. */
export function processes(comm: string): { pid: number; net?: string }[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      let name: string;
      try {
        name = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      } catch {
        return [];
      }
      return name === comm ? [{ pid: Number(d), net: readlinkOr(`/proc/${d}/ns/net`) }] : [];
    });
}

/** Where a lab node sees its own files (NODE_FILES in src/lab/node.ts): its sshd_config is there. */
const NODE_FILES = '/mnt';

/**
 * The babeld processes a node runs: those that see the node's own files. Not its mount namespace:
 * `ip netns exec` (babeld beside links in a namespace) gives a process a mount namespace of its own.
 */
export function babeldsOf(lab: Lab, node: string): { pid: number; net?: string }[] {
  const n = lab.nodes.find((x) => x.name === node)!;
  const ours = statSync(join(n.dir, 'sshd_config'));
  const sees = (pid: number): boolean => {
    try {
      const seen = statSync(`/proc/${pid}/root${NODE_FILES}/sshd_config`);
      return seen.dev === ours.dev && seen.ino === ours.ino;
    } catch {
      return false;
    }
  };
  return processes('babeld')
    .filter((p) => sees(p.pid))
    .map(({ pid, net }) => ({ pid, net }));
}
