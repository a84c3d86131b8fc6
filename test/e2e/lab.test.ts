// `rait-fleet lab` against the real system: namespaces, sshd, SSH with strict host keys, teardown. Runs as root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { labDown, labExec, labUp, readLab, type Lab } from '../../src/lab/index.js';
import { isAlive, linkNames, namespaceNames } from '../../src/lab/system.js';
import { labSsh } from './lab-ssh.js';

const uniqueName = (): string => `e${randomBytes(3).toString('hex')}`;
/** Host directories a node must never write to (its own are private mounts or overlays). */
const HOST_DIRS = ['/etc', '/var/lib', '/var/log', '/root', '/run'];
const listing = (): Map<string, string[]> => new Map(HOST_DIRS.map((d) => [d, readdirSync(d).sort()]));

describe('rait-fleet lab', () => {
  const work = mkdtempSync(join(tmpdir(), 'rfl-lab-e2e-'));
  const name = uniqueName();
  const name6 = uniqueName();
  const dir = join(work, 'lab');
  const inventory = join(work, 'inventory.yaml');
  const marker = `rfl-e2e-${name}`;
  let lab: Lab;
  let hostBefore: Map<string, string[]>;

  before(async () => {
    hostBefore = listing();
    lab = await labUp({ nodes: 3, name, dir, inventory });
  });

  after(async () => {
    // Also runs when assertions failed: never leave namespaces, links or sshd behind.
    await labDown(name, dir).catch(() => {});
    await labDown(name6, join(work, 'lab6')).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  it('records the lab and writes an inventory pointing at it', () => {
    assert.deepEqual(readLab(name, dir), lab);
    const inv = parse(readFileSync(inventory, 'utf8')) as {
      ssh: { identity_file: string; known_hosts: string; host_key_checking: string };
      nodes: Record<string, { host: string; vars: { loopback: string; loopback4: string } }>;
    };
    assert.equal(inv.ssh.host_key_checking, 'strict');
    assert.equal(inv.ssh.identity_file, lab.keyFile);
    assert.deepEqual(Object.keys(inv.nodes), ['n1', 'n2', 'n3']);
    for (const node of lab.nodes) {
      assert.equal(inv.nodes[node.name]!.host, node.address);
      assert.equal(inv.nodes[node.name]!.vars.loopback, node.loopback);
    }
    assert.equal(readFileSync(lab.keyFile).length > 0 && readFileSync(lab.keyFile, 'utf8').includes('PRIVATE KEY'), true);
  });

  it('answers SSH on every node with the host key in known_hosts, and only with it', async () => {
    for (const node of lab.nodes) {
      const r = await labSsh(lab, node.address, 'ip -j address show dev eth0');
      assert.equal(r.code, 0, r.stderr);
      const addrs = (JSON.parse(r.stdout) as { addr_info: { local: string }[] }[])[0]!.addr_info.map((a) => a.local);
      assert.ok(addrs.includes(node.address), `${node.name} sees ${addrs.join(', ')}`);
      for (const other of lab.nodes.filter((o) => o !== node)) assert.ok(!addrs.includes(other.address));
    }
    // n1's address with n2's key: strict checking must refuse.
    // A node's key is there under its address and its loopback address (its sshd listens on both).
    const lines = readFileSync(lab.knownHosts, 'utf8').trim().split('\n');
    const keyOf = (host: string): string | undefined =>
      lines
        .find((l) => l.startsWith(`${host} `))
        ?.split(' ')
        .slice(1)
        .join(' ');
    assert.equal(keyOf(lab.nodes[1]!.loopback4.split('/')[0]!), keyOf(lab.nodes[1]!.address));
    const swapped = join(work, 'known_hosts.swapped');
    writeFileSync(swapped, `${lab.nodes[0]!.address} ${keyOf(lab.nodes[1]!.address)}\n`);
    const bad = await labSsh({ ...lab, knownHosts: swapped }, lab.nodes[0]!.address, 'true');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /host key/i);
  });

  it('gives each node its own /run, home and network namespaces', async () => {
    const [n1, n2] = lab.nodes;
    const wrote = await labSsh(
      lab,
      n1!.address,
      `echo hello > /run/${marker} && ls -A /root && ip netns add ${marker} && ip netns exec ${marker} true && ip netns list`,
    );
    assert.equal(wrote.code, 0, wrote.stderr);
    assert.match(wrote.stdout, new RegExp(marker));
    assert.equal(wrote.stdout.split('\n')[0], '.ssh', 'root home holds only .ssh');
    assert.equal((await labSsh(lab, n2!.address, `test -e /run/${marker}`)).code, 1, 'n2 sees n1 /run file');
    assert.equal(existsSync(`/run/${marker}`), false, 'host sees n1 /run file');
    assert.equal((await namespaceNames()).includes(marker), false, 'host sees n1 netns');
    const seen = await labExec(lab, 'n1', ['cat', `/run/${marker}`]);
    assert.equal(seen.stdout, 'hello\n');
    assert.equal((await labExec(lab, 'n1', ['ip', 'netns', 'delete', marker])).code, 0);
  });

  it('refuses a second lab with the same name', async () => {
    await assert.rejects(labUp({ nodes: 1, name, dir, inventory: join(work, 'other.yaml') }), /in use/);
    assert.equal(existsSync(join(work, 'other.yaml')), false);
  });

  it('brings an ip6 lab up too', async () => {
    const lab6 = await labUp({ nodes: 2, name: name6, dir: join(work, 'lab6'), inventory: join(work, 'lab6.yaml'), addressFamily: 'ip6' });
    assert.equal(lab6.addressFamily, 'ip6');
    for (const node of lab6.nodes) {
      assert.ok(node.address.includes(':'));
      const r = await labSsh(lab6, node.address, 'echo ok');
      assert.equal(r.stdout, 'ok\n', r.stderr);
    }
    await labDown(name6, join(work, 'lab6'));
    assert.equal(existsSync(join(work, 'lab6.yaml')), false);
  });

  it('raises fs.inotify.max_user_instances for a big lab, and down puts it back', async () => {
    const limitFile = '/proc/sys/fs/inotify/max_user_instances';
    const original = readFileSync(limitFile, 'utf8');
    const big = uniqueName();
    try {
      writeFileSync(limitFile, '128\n'); // a fresh Debian machine's default
      const lab12 = await labUp({ nodes: 12, name: big, dir: join(work, 'lab12'), inventory: join(work, 'lab12.yaml') });
      assert.equal(readFileSync(limitFile, 'utf8'), '392\n');
      assert.deepEqual(readLab(big, lab12.dir).inotify, { from: 128, to: 392 });
      await labDown(big, lab12.dir);
      // The 3-node lab of this suite (and any other on the machine) keeps room for its wireguard-go.
      const stillUp = (await namespaceNames()).filter((n) => /^rfl-.+-\d+$/.test(n)).length;
      assert.ok(stillUp >= 3);
      assert.equal(readFileSync(limitFile, 'utf8'), `${Math.max(128, 128 + 2 * stillUp * (stillUp - 1))}\n`);
    } finally {
      await labDown(big, join(work, 'lab12')).catch(() => {});
      writeFileSync(limitFile, original);
    }
  });

  it('down removes every namespace, link, process and file, and twice is harmless', async () => {
    const report = await labDown(name, dir);
    assert.equal(report.namespaces.length, 3);
    assert.ok(report.killed.length >= 3);
    const ours = new RegExp(`^rfl-${name}(-\\d+)?$`);
    assert.deepEqual(
      (await namespaceNames()).filter((n) => ours.test(n)),
      [],
    );
    assert.deepEqual(
      (await linkNames()).filter((l) => ours.test(l)),
      [],
    );
    for (const node of lab.nodes) assert.equal(isAlive(node.sshdPid!), false, `${node.name} sshd still runs`);
    assert.deepEqual(
      readdirSync(work).filter((f) => !f.startsWith('known_hosts.swapped')),
      [],
    );
    assert.deepEqual(listing(), hostBefore);
    const again = await labDown(name, dir);
    assert.deepEqual(again, { killed: [], namespaces: [], links: [], removed: [] });
  });
});
