// Dual-stack transports on a real lab (issue 17): every node has an IPv4 and an IPv6 underlay address,
// a transport in each, and so two links to each peer. When one family's UDP is dropped on a node (nft in
// that node's namespace only), babel routes around it over the other family's links. Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import TOML from '@iarna/toml';
import { labExec, type Lab, type LabNode } from '../../src/lab/index.js';
import { run } from '../../src/lab/system.js';
import { readState } from '../../src/state/store.js';
import { sendPortOf } from '../../src/state/send-ports.js';
import { runCli, waitFor, waitForHealthy } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { configDir, configDirProblems, managedLinks } from './mesh-facts.js';

const nft = (node: LabNode, args: string[]) => run('ip', ['netns', 'exec', node.namespace, 'nft', ...args]);

/**
 * Drops the node's underlay UDP of one family, in and out (its own namespace only). Only on eth0: babel
 * itself speaks IPv6 UDP inside the tunnels, and must go on over the other family's.
 */
async function dropUdp(node: LabNode, table: 'ip' | 'ip6'): Promise<void> {
  const rules = [
    `table ${table} rfdrop {`,
    '  chain input { type filter hook input priority -10; iifname "eth0" meta l4proto udp drop; }',
    '  chain output { type filter hook output priority -10; oifname "eth0" meta l4proto udp drop; }',
    '}',
  ].join('\n');
  const r = await run('ip', ['netns', 'exec', node.namespace, 'nft', '-f', '-'], `${rules}\n`);
  assert.equal(r.code, 0, r.stderr);
}

describe('a 3-node dual-stack lab', () => {
  const suite = labSuite('dual', 3, { dualStack: true });
  const { inventory } = suite;
  let lab: Lab;

  /** Pings `target`'s loopback (both families) from `from`, until both answer or the time is up. */
  const reachable = async (from: LabNode, target: LabNode, timeoutMs: number): Promise<boolean> =>
    waitFor(
      async () => {
        for (const address of [target.loopback4, target.loopback]) {
          const r = await labExec(lab, from.name, ['ping', '-c', '1', '-W', '1', address.split('/')[0]!]);
          if (r.code !== 0) return false;
        }
        return true;
      },
      timeoutMs,
      1000,
    );
  /** The interface `from` routes `target`'s IPv4 loopback through. */
  const via = async (from: LabNode, target: LabNode): Promise<string> => {
    const r = await labExec(lab, from.name, ['ip', 'route', 'get', target.loopback4.split('/')[0]!]);
    return /\bdev (\S+)/.exec(r.stdout)?.[1] ?? r.stdout;
  };

  before(async () => {
    lab = suite.lab;
    const r = await runCli(['deploy', inventory]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('a link per family to each peer, named by that family prefix and SendPort; one rait.conf per transport', async () => {
    const state = readState(suite.statePath);
    for (const n of lab.nodes) {
      const expected = lab.nodes
        .filter((p) => p !== n)
        .flatMap((p) => [`rait4x${sendPortOf(state.nodes[p.name]!, 'ip4')}`, `rait6x${sendPortOf(state.nodes[p.name]!, 'ip6')}`])
        .sort();
      assert.deepEqual([...(await managedLinks(lab, n.name)).keys()].sort(), expected, n.name);
      assert.deepEqual(configDirProblems(n), []);
      const second = TOML.parse(readFileSync(join(configDir(n), 'rait-ip6.conf'), 'utf8'));
      assert.deepEqual(
        [second.AddressFamily, second.InterfacePrefix, second.SendPort],
        ['ip6', 'rait6x', sendPortOf(state.nodes[n.name]!, 'ip6')],
      );
    }
    // The ip6 links send to the peers' IPv6 underlay addresses.
    const n1 = lab.nodes[0]!;
    const n2 = lab.nodes[1]!;
    const ep = await labExec(lab, n1.name, ['wg', 'show', `rait6x${sendPortOf(state.nodes.n2!, 'ip6')}`, 'endpoints']);
    assert.match(ep.stdout, new RegExp(`\\[${n2.secondAddress}\\]:${sendPortOf(state.nodes.n1!, 'ip6')}`));
  });

  it('status: healthy, every link of both families up', async () => {
    const doc = await waitForHealthy(inventory);
    const up = doc.links.filter((l) => l.status === 'up');
    assert.deepEqual([up.filter((l) => l.family === 'ip4').length, up.filter((l) => l.family === 'ip6').length], [6, 6]);
  });

  for (const [table, lost, kept] of [
    ['ip', 'ip4', 'ip6'],
    ['ip6', 'ip6', 'ip4'],
  ] as const) {
    it(`${lost} UDP dropped on a node: it stays reachable over its ${kept} links`, async () => {
      const [n1, n2] = lab.nodes as [LabNode, LabNode];
      const state = readState(suite.statePath);
      // n2's direct link to n1 in the dropped family; babel may route over n2's direct other link or through n3.
      const dead = `rait${lost[2]}x${sendPortOf(state.nodes.n1!, lost)}`;
      assert.ok(await reachable(n2, n1, 60_000), 'n1 reachable before');
      await dropUdp(n1, table);
      try {
        // babel notices the dead links after a few missed hellos (4 s apart in the lab) and reroutes.
        const moved = await waitFor(async () => (await via(n2, n1)) !== dead && (await reachable(n2, n1, 0)), 60_000, 1000);
        assert.ok(moved, `n2 routes n1 via ${await via(n2, n1)}`);
        await new Promise((r) => setTimeout(r, 3000));
        assert.ok(await reachable(n2, n1, 0), 'still reachable a few seconds later');
        assert.notEqual(await via(n2, n1), dead);
      } finally {
        const r = await nft(n1, ['delete', 'table', table, 'rfdrop']);
        assert.equal(r.code, 0, r.stderr);
      }
    });
  }
});
