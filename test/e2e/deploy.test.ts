// deploy, deploy --check, status and down against a real 4-node lab: real sshd, the real agent,
// wireguard-go and babeld in network namespaces. Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { labExec, type Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import { editInventory, outcomes, runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { expectedLinks as expectedLinksOf, managedLinks } from './mesh-facts.js';

async function handshakes(lab: Lab, node: string, netns?: string): Promise<Map<string, number>> {
  const r = await labExec(lab, node, [...(netns ? ['ip', 'netns', 'exec', netns] : []), 'wg', 'show', 'all', 'latest-handshakes']);
  assert.equal(r.code, 0, r.stderr);
  return new Map(
    r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [ifname, , ts] = l.split('\t');
        return [ifname!, Number(ts)];
      }),
  );
}

async function pings(lab: Lab, from: string, address: string, netns?: string): Promise<boolean> {
  const r = await labExec(lab, from, [...(netns ? ['ip', 'netns', 'exec', netns] : []), 'ping', '-c', '1', '-W', '1', address]);
  return r.code === 0;
}

/** Every node reaches every other node's loopback over the overlay, within the deadline. */
async function allLoopbacksAnswer(lab: Lab, netns?: string, timeoutMs = 60_000): Promise<string[]> {
  const failing = async (): Promise<string[]> => {
    const bad: string[] = [];
    for (const a of lab.nodes)
      for (const b of lab.nodes) {
        if (a !== b && !(await pings(lab, a.name, b.loopback.split('/')[0]!, netns))) bad.push(`${a.name}->${b.name}`);
      }
    return bad;
  };
  let last: string[] = [];
  await waitFor(async () => (last = await failing()).length === 0, timeoutMs, 2000);
  return last;
}

describe('deploy to a 4-node ip4 lab', () => {
  const suite = labSuite('deploy', 4);
  const { inventory, statePath } = suite;
  let lab: Lab;
  before(() => void (lab = suite.lab));
  const expectedLinks = (node: string): string[] => expectedLinksOf(lab, readState(statePath), node);

  it('deploys: exactly 3 managed links per node, named prefix + peer SendPort, each with a handshake', async () => {
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const o of outcomes(r.stdout).values()) assert.equal(o.result, 'changed', `${o.node}: ${o.error}`);
    for (const node of lab.nodes) {
      assert.deepEqual([...(await managedLinks(lab, node.name)).keys()].sort(), expectedLinks(node.name));
    }
    let without: string[] = [];
    await waitFor(async () => {
      without = [];
      for (const node of lab.nodes)
        for (const [ifname, ts] of await handshakes(lab, node.name)) if (!ts) without.push(`${node.name}/${ifname}`);
      return without.length === 0;
    }, 30_000);
    assert.deepEqual(without, [], 'links without a handshake');
  });

  it('routes every loopback over the overlay with babeld', async () => {
    assert.deepEqual(await allLoopbacksAnswer(lab), []);
    const n1 = lab.nodes[0]!;
    for (const other of lab.nodes.slice(1)) {
      const route = await labExec(lab, n1.name, ['ip', '-6', 'route', 'show', other.loopback]);
      assert.match(route.stdout, /proto babel/, `route to ${other.loopback} on n1: ${route.stdout}`);
    }
  });

  it('status is healthy and agrees with wg show', async () => {
    type Doc = {
      healthy: boolean;
      links: { status: string }[];
      facts: Record<string, { links: { name: string; publicKey: string; listenPort: number }[] }>;
    };
    let doc: Doc | undefined;
    // babeld may still be exchanging its first hellos; status is healthy once every neighbour is seen.
    const r = await waitFor(
      async () => {
        const run = await runCli(['status', inventory, '--json']);
        doc = JSON.parse(run.stdout) as Doc;
        return run.code === 0 ? run : undefined;
      },
      30_000,
      2000,
    );
    assert.ok(r, `status stayed degraded: ${JSON.stringify(doc?.links.filter((l) => l.status !== 'up' && l.status !== 'not-expected'))}`);
    assert.equal(doc!.healthy, true);
    assert.equal(doc!.links.filter((l) => l.status === 'up').length, 12);
    for (const n of lab.nodes) {
      const wg = await labExec(lab, n.name, ['wg', 'show', 'all', 'dump']);
      // Peer lines: ifname, public key, psk, endpoint, allowed-ips, handshake, rx, tx, keepalive.
      const peers = wg.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
        .filter((f) => f.length === 9);
      const fromWg = peers.map(([ifname, pub]) => `${ifname} ${pub}`).sort();
      const fromStatus = doc!.facts[n.name]!.links.map((l) => `${l.name} ${l.publicKey}`).sort();
      assert.deepEqual(fromStatus, fromWg, n.name);
    }
    assert.doesNotMatch(r!.stdout, /PrivateKey|privateKey/);
  });

  it('a second deploy reports every node unchanged and resets no link or babeld', async () => {
    const before = new Map(await Promise.all(lab.nodes.map(async (n) => [n.name, await managedLinks(lab, n.name)] as const)));
    const babeldBefore = await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, ['cat', '/run/rait-fleet/babeld.pid'])));
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr);
    for (const o of outcomes(r.stdout).values()) {
      assert.equal(o.result, 'unchanged', `${o.node}: ${JSON.stringify(o)}`);
      assert.equal(o.links!.kept.length, 3);
    }
    for (const n of lab.nodes) assert.deepEqual(await managedLinks(lab, n.name), before.get(n.name), `links of ${n.name} were recreated`);
    const babeldAfter = await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, ['cat', '/run/rait-fleet/babeld.pid'])));
    assert.deepEqual(
      babeldAfter.map((b) => b.stdout),
      babeldBefore.map((b) => b.stdout),
    );
  });

  it('survives a cut tunnel through another node, and the next deploy restores it', async (t) => {
    const [n1, n2] = lab.nodes;
    const state = readState(statePath);
    const toN2 = `rait${state.nodes[n2!.name]!.sendPort}`;
    const del = await labExec(lab, n1!.name, ['ip', 'link', 'del', toN2]);
    assert.equal(del.code, 0, del.stderr);
    // n1 drops the route at once, but n2's end of the cut tunnel still looks alive to its babeld: with
    // RAIT's link-quality costs (lab hellos every 4 s) its cost doubles per missed hello and the silent
    // neighbour is dropped after 12 missed hellos (48 s). Replies from n2 take the detour somewhere in
    // between, so the deadline covers the worst case plus a seqno round; the time taken is reported.
    const cutAt = Date.now();
    assert.deepEqual(await allLoopbacksAnswer(lab, undefined, 90_000), [], 'every loopback reachable through another node');
    t.diagnostic(`every loopback answered ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`);
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const o = outcomes(r.stdout);
    assert.deepEqual(o.get(n1!.name)!.links!.added, [toN2]);
    for (const n of lab.nodes.slice(1)) assert.equal(o.get(n.name)!.result, 'unchanged');
    assert.deepEqual([...(await managedLinks(lab, n1!.name)).keys()].sort(), expectedLinks(n1!.name));
  });

  it('--check after an MTU edit lists the updates and changes nothing', async () => {
    const original = readFileSync(inventory, 'utf8');
    try {
      editInventory(inventory, (doc) => doc.setIn(['mesh', 'mtu'], 1380));
      const r = await runCli(['deploy', inventory, '--check', '--json']);
      assert.equal(r.code, 0, r.stderr);
      for (const o of outcomes(r.stdout).values()) {
        assert.equal(o.links!.updated.length, 3, `${o.node}: ${JSON.stringify(o.links)}`);
        const raitConf = o.files!.find((f) => f.name === 'rait.conf')!;
        assert.equal(raitConf.changed, true);
        assert.match(raitConf.diff ?? '', /MTU/);
        assert.doesNotMatch(JSON.stringify(o), /PrivateKey = "[A-Za-z0-9+/]{43}="/);
      }
      for (const n of lab.nodes) for (const l of (await managedLinks(lab, n.name)).values()) assert.equal(l.mtu, 1400);
      const text = await runCli(['deploy', inventory, '--check']);
      assert.match(text.stdout, /~ link rait\d+/);
    } finally {
      writeFileSync(inventory, original);
    }
  });

  it('removing a node from the inventory removes its tunnels on all the others', async () => {
    const original = readFileSync(inventory, 'utf8');
    const gone = lab.nodes[3]!;
    const toGone = `rait${readState(statePath).nodes[gone.name]!.sendPort}`;
    try {
      editInventory(inventory, (doc) => doc.deleteIn(['nodes', gone.name]));
      const r = await runCli(['deploy', inventory, '--json']);
      assert.equal(r.code, 0, r.stderr);
      for (const n of lab.nodes.slice(0, 3)) {
        const links = [...(await managedLinks(lab, n.name)).keys()].sort();
        assert.deepEqual(
          links,
          expectedLinks(n.name).filter((l) => l !== toGone),
          n.name,
        );
        assert.deepEqual(outcomes(r.stdout).get(n.name)!.links!.removed, [toGone]);
      }
    } finally {
      writeFileSync(inventory, original);
    }
  });

  it('down leaves no managed interface on any node', async () => {
    const r = await runCli(['down', inventory]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const n of lab.nodes) assert.deepEqual([...(await managedLinks(lab, n.name)).keys()], []);
  });

  it('--limit deploys only to the named node, with links to the whole mesh', async () => {
    const [n1, ...rest] = lab.nodes;
    const r = await runCli(['deploy', inventory, '--limit', n1!.name, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...outcomes(r.stdout).keys()], [n1!.name]);
    assert.deepEqual([...(await managedLinks(lab, n1!.name)).keys()].sort(), expectedLinks(n1!.name));
    for (const n of rest) assert.equal((await managedLinks(lab, n.name)).size, 0, `${n.name} was touched`);
    assert.equal((await runCli(['down', inventory, '--limit', n1!.name])).code, 0);
    assert.equal((await managedLinks(lab, n1!.name)).size, 0);
  });
});

describe('deploy with netns isolation', () => {
  const suite = labSuite('netns', 3);
  const { inventory } = suite;
  let lab: Lab;
  before(() => void (lab = suite.lab));
  const ns = 'overlay';

  const isolate = (on: boolean): void =>
    editInventory(inventory, (doc) => {
      doc.setIn(['mesh', 'isolation'], on ? 'netns' : 'none');
      doc.setIn(['mesh', 'interface_namespace'], on ? ns : '');
    });
  /** The network namespace babeld runs in, as the inode link of /proc/PID/ns/net. */
  const babeldNetns = async (node: string): Promise<string> => {
    const r = await labExec(lab, node, ['sh', '-c', 'readlink /proc/"$(cat /run/rait-fleet/babeld.pid)"/ns/net']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const netnsOf = async (node: string, netns?: string): Promise<string> =>
    (await labExec(lab, node, [...(netns ? ['ip', 'netns', 'exec', netns] : []), 'readlink', '/proc/self/ns/net'])).stdout.trim();

  it('switching a deployed mesh to netns moves its links and babeld into the namespace', async () => {
    const plain = await runCli(['deploy', inventory]);
    assert.equal(plain.code, 0, plain.stderr + plain.stdout);
    const names = new Map(
      await Promise.all(lab.nodes.map(async (n) => [n.name, [...(await managedLinks(lab, n.name)).keys()].sort()] as const)),
    );
    isolate(true);

    const check = await runCli(['deploy', inventory, '--check', '--json']);
    assert.equal(check.code, 0, check.stderr);
    for (const n of lab.nodes) {
      const o = outcomes(check.stdout).get(n.name)!;
      assert.deepEqual([o.links!.removed, o.links!.added, o.babeld], [names.get(n.name), names.get(n.name), 'would-restarted'], n.name);
      assert.deepEqual([...(await managedLinks(lab, n.name)).keys()].sort(), names.get(n.name), `--check moved ${n.name}'s links`);
    }

    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const n of lab.nodes) {
      const o = outcomes(r.stdout).get(n.name)!;
      assert.deepEqual([o.links!.removed, o.links!.added, o.babeld], [names.get(n.name), names.get(n.name), 'restarted'], n.name);
      assert.equal((await managedLinks(lab, n.name)).size, 0, `${n.name} kept links outside ${ns}`);
      assert.deepEqual([...(await managedLinks(lab, n.name, ns)).keys()].sort(), names.get(n.name));
      assert.equal(await babeldNetns(n.name), await netnsOf(n.name, ns), `${n.name}'s babeld is not in ${ns}`);
    }
  });

  it('puts the links in the interface namespace, sockets outside, and routes loopbacks there', async () => {
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const o of outcomes(r.stdout).values()) assert.equal(o.result, 'unchanged', `${o.node}: ${JSON.stringify(o)}`);
    for (const n of lab.nodes) {
      assert.equal((await managedLinks(lab, n.name, ns)).size, 2, `${n.name} links in ${ns}`);
      assert.equal((await managedLinks(lab, n.name)).size, 0, `${n.name} links outside ${ns}`);
      // The overlay address lives beside the links; babeld (in the namespace) announces it.
      const add = await labExec(lab, n.name, ['ip', '-n', ns, 'address', 'add', n.loopback, 'dev', 'lo']);
      assert.equal(add.code, 0, add.stderr);
      await labExec(lab, n.name, ['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    assert.deepEqual(await allLoopbacksAnswer(lab, ns), []);
  });

  it('switching back to no isolation brings them out again, the namespace it made goes, and down removes them', async () => {
    isolate(false);
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const n of lab.nodes) {
      assert.equal(outcomes(r.stdout).get(n.name)!.babeld, 'restarted');
      const namespaces = await labExec(lab, n.name, ['ip', 'netns', 'list']);
      assert.doesNotMatch(namespaces.stdout, new RegExp(`^${ns}\\b`, 'm'), `${n.name} kept the namespace ${ns} the agent made`);
      assert.equal((await managedLinks(lab, n.name)).size, 2, n.name);
      assert.equal(await babeldNetns(n.name), await netnsOf(n.name));
    }
    const down = await runCli(['down', inventory]);
    assert.equal(down.code, 0, down.stderr + down.stdout);
    for (const n of lab.nodes) assert.equal((await managedLinks(lab, n.name)).size, 0);
  });
});
