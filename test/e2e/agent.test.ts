/**
 * The real agent on real namespaces, without SSH: three nodes (netns + private /run and
 * /var/lib) on a bridge of their own, wireguard-go tunnels and babeld. Needs root.
 * Everything is named rfa<id>… and removed afterwards, by PID and by the names made here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Isolation, MeshSettings, Node } from '../../src/inventory/types.js';
import type { NodePlan } from '../../src/mesh/types.js';
import { buildPayload, loadAgentScript } from '../../src/agent/payload.js';
import { parseReport } from '../../src/agent/validate.js';
import type { RemoteMode, ApplyReport, StatusReport } from '../../src/agent/report.js';
import { systemdUnits } from '../../src/mesh/units.js';

const ID = String(process.pid % 10000);
const BRIDGE = `rfa${ID}br`;
const NODES = [1, 2, 3];
const script = loadAgentScript();
const dir = mkdtempSync(join(tmpdir(), 'rfa-e2e-'));
const holders = new Map<number, number>();
const keys = new Map<number, { priv: string; pub: string }>();
let subnet = '';

const ns = (i: number) => `rfa${ID}-${i}`;
const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { input, encoding: 'utf8' });
const sendPort = (i: number) => 50000 + i;

function freeSubnet(): string {
  const routes = sh('ip', ['route']) + sh('ip', ['-6', 'route']);
  for (let x = 200; x < 250; x++) if (!routes.includes(`10.${x}.`)) return `10.${x}.77`;
  throw new Error('no free 10.x subnet');
}

function mesh(i: number, isolation: Isolation, mtu = 1400): MeshSettings {
  const configDir = join(dir, `n${i}`);
  return {
    interfacePrefixes: { ip4: 'rait', ip6: 'rait' },
    interfaceGroup: 54,
    mtu,
    fwmark: 54,
    sendPortRange: [50000, 50100],
    isolation,
    interfaceNamespace: isolation === 'netns' ? 'ovl' : '',
    transitNamespace: '',
    configDir,
    healInterval: 300,
    keepalive: 25,
    babeld: {
      enabled: true,
      manage: 'agent',
      template: '',
      configPath: join(configDir, 'babeld.conf'),
      socket: '/run/babeld.ctl',
      helloInterval: 20,
    },
    pull: null,
  };
}

function plan(i: number, peers: number[]): NodePlan {
  const links = peers
    .filter((j) => j !== i)
    .map((j) => ({
      name: `rait${sendPort(j)}`,
      peer: `n${j}`,
      family: 'ip4' as const,
      peerPublicKey: keys.get(j)!.pub,
      listenPort: sendPort(j),
      endpointHost: `${subnet}.${j}`,
      endpointPort: sendPort(i),
      linkLocal: `fe80::${i}:${j}/64`,
      keepalive: 0,
    }));
  const me = keys.get(i)!;
  return {
    node: { name: `n${i}`, transports: [{ family: 'ip4', endpoint: null }] } as unknown as Node,
    keys: { privateKey: me.priv, publicKey: me.pub, sendPort: sendPort(i) },
    links,
    files: {
      'rait.conf': `PrivateKey = "${me.priv}"\nSendPort = ${sendPort(i)}\n`,
      'peers.conf': links.map((l) => `[[Peers]]\nPublicKey = "${l.peerPublicKey}"\n`).join('\n'),
      'babeld.conf':
        [
          'local-path-readwrite /run/babeld.ctl',
          'default type tunnel link-quality true split-horizon false rxcost 32 hello-interval 2',
          ...links.map((l) => `interface ${l.name}`),
        ].join('\n') + '\n',
      ...systemdUnits(mesh(i, 'none')),
    },
  };
}

/** Run the agent on node i and return its validated report. */
function agent(i: number, mode: RemoteMode, opts: { peers?: number[]; isolation?: Isolation; mtu?: number } = {}) {
  const payload = buildPayload(plan(i, opts.peers ?? NODES), mesh(i, opts.isolation ?? 'none', opts.mtu), mode, script);
  const r = spawnSync('nsenter', ['-t', String(holders.get(i)), '-m', '-n', 'sh', '-s', '--', mode], { input: payload, encoding: 'utf8' });
  assert.equal(r.status, 0, `agent on n${i}: ${r.stderr}`);
  assert.ok(!r.stdout.includes(keys.get(i)!.priv) && !r.stderr.includes(keys.get(i)!.priv), 'private key in agent output');
  return { report: parseReport(r.stdout, mode), stdout: r.stdout };
}
const apply = (i: number, mode: RemoteMode, opts?: Parameters<typeof agent>[2]) => agent(i, mode, opts).report as ApplyReport;
const status = (i: number, isolation: Isolation = 'none') => agent(i, 'status', { isolation }).report as StatusReport;

/** A command in node i's view (its netns and private mounts). */
const inNode = (i: number, cmd: string) =>
  spawnSync('nsenter', ['-t', String(holders.get(i)), '-m', '-n', 'sh', '-c', cmd], { encoding: 'utf8' });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let n = 0; n < 60; n++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** PIDs of processes living in namespaces this test made (daemons the agent started). */
function ourProcesses(): number[] {
  const inodes = new Set<string>();
  for (const i of holders.keys()) {
    for (const n of ['', 'ovl']) {
      const r = inNode(i, n ? `ip netns exec ${n} readlink /proc/self/ns/net 2>/dev/null` : 'readlink /proc/self/ns/net');
      if (r.stdout.trim()) inodes.add(r.stdout.trim());
    }
  }
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (inodes.has(readlinkSync(`/proc/${p}/ns/net`)) && !holdersHas(Number(p))) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}
const holdersHas = (pid: number) => [...holders.values()].includes(pid);

before(() => {
  subnet = freeSubnet();
  for (const i of NODES) {
    const priv = sh('wg', ['genkey']).trim();
    keys.set(i, { priv, pub: sh('wg', ['pubkey'], priv + '\n').trim() });
  }
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${subnet}.254/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  for (const i of NODES) {
    sh('ip', ['netns', 'add', ns(i)]);
    sh('ip', ['link', 'add', `rfa${ID}-${i}h`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i)]);
    sh('ip', ['link', 'set', `rfa${ID}-${i}h`, 'master', BRIDGE, 'up']);
    sh('ip', ['-n', ns(i), 'addr', 'add', `${subnet}.${i}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns(i), 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns(i), 'link', 'set', 'lo', 'up']);
    const holder = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns(i),
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /var/log && exec sleep 3600',
      ],
      { stdio: 'ignore' },
    );
    holders.set(i, holder.pid!);
  }
  const route = sh('ip', ['route', 'get', `${subnet}.1`]);
  assert.match(route, new RegExp(`dev ${BRIDGE}`), 'lab traffic must stay on the lab bridge');
});

after(() => {
  for (const pid of ourProcesses())
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const pid of holders.values())
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const i of NODES) spawnSync('ip', ['netns', 'del', ns(i)]);
  spawnSync('ip', ['link', 'del', BRIDGE]);
  rmSync(dir, { recursive: true, force: true });
});

test('deploy, re-deploy, remove, check, status, down — isolation none', async () => {
  await until('holders ready', () => NODES.every((i) => inNode(i, 'findmnt -n /var/log').stdout.includes('tmpfs')));
  for (const i of NODES) {
    const r = apply(i, 'deploy');
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(
      r.links.added.sort(),
      NODES.filter((j) => j !== i).map((j) => `rait${sendPort(j)}`),
    );
    assert.equal(r.babeld, 'started');
  }
  await until('handshakes', () => NODES.every((i) => status(i).links.every((l) => l.handshakeAge !== null)));
  assert.equal(inNode(1, 'ping -c1 -W2 fe80::2:1%rait50002').status, 0, 'ping over the tunnel');
  await until('babel neighbours', () => status(1).babel.neighbours.length === 2);

  const facts = () => inNode(1, 'cat /run/rait-fleet/babeld.pid; wg show all latest-handshakes; pgrep -f "^wireguard-go rait"').stdout;
  const before = facts();
  const again = apply(1, 'deploy');
  assert.deepEqual(again.links, { added: [], updated: [], removed: [], kept: ['rait50002', 'rait50003'], failed: [] });
  assert.deepEqual(
    again.files.map((f) => `${f.name} ${f.changed}`),
    ['rait.conf false', 'peers.conf false', 'babeld.conf false', 'rait-fleet-agent false'],
  );
  assert.equal(again.babeld, 'unchanged');
  assert.equal(facts(), before, 'babeld, wireguard-go and handshakes untouched');

  const check = apply(1, 'check', { mtu: 1420 });
  assert.deepEqual(check.links.updated, ['rait50002', 'rait50003']);
  assert.match(inNode(1, 'ip link show rait50002').stdout, /mtu 1400 /, 'check changed nothing');

  const removed = apply(1, 'deploy', { peers: [1, 2] });
  assert.deepEqual(removed.links.removed, ['rait50003']);
  assert.equal(removed.babeld, 'updated');
  const dump = inNode(1, 'printf "dump\\nquit\\n" | socat - UNIX-CONNECT:/run/babeld.ctl').stdout;
  assert.doesNotMatch(dump, /add interface rait50003/);
  assert.notEqual(inNode(1, 'ip link show rait50003').status, 0);

  const s = status(2);
  assert.equal(s.ok, true);
  assert.deepEqual(Object.keys(s.configHashes).sort(), ['babeld.conf', 'peers.conf', 'rait.conf']);
  const raitConf = readFileSync(join(dir, 'n2', 'rait.conf'));
  assert.equal(s.configHashes['rait.conf'], sh('sha256sum', [], raitConf.toString()).split(' ')[0]);

  for (const i of NODES) {
    const r = apply(i, 'down');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.babeld, 'stopped');
    assert.equal(inNode(i, 'ip -o link show group 54').stdout, '');
  }
});

test('netns isolation: links live in the interface namespace and talk', async () => {
  for (const i of NODES) assert.equal(apply(i, 'deploy', { isolation: 'netns' }).ok, true);
  await until('handshakes', () => NODES.every((i) => status(i, 'netns').links.every((l) => l.handshakeAge !== null)));
  assert.equal(inNode(1, 'ip netns exec ovl ping -c1 -W2 fe80::3:1%rait50003').status, 0);
  assert.equal(inNode(1, 'ip -o link show group 54').stdout, '', 'no link left in the transit namespace');
  for (const i of NODES) assert.deepEqual(apply(i, 'down', { isolation: 'netns' }).links.kept, []);
});
