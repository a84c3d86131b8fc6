// Nodes behind NAT (issue 12): what the plan gives them and their peers, what status says about
// pairs that have no link by design, and what the agent does with a link without an endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import TOML from '@iarna/toml';
import type { ApplyReport } from '../../src/agent/report.js';
import { parseInventory } from '../../src/inventory/load.js';
import { planMesh } from '../../src/mesh/plan.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { analyzeMesh } from '../../src/status/analyze.js';
import { makePlan, probesFor, names } from './status-fixtures.js';
import { factsDir, MadeUpNode, runAgent } from './agent-harness.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { link, n1Plan } from './recorded-node.js';

function plan(nodes: string, mesh = '') {
  const inv = parseInventory('/inv/nat.yaml', `${mesh}nodes:\n${nodes}`);
  return planMesh(inv, ensureKeys(inv, { nodes: {} }).state, { babeld: '' });
}
const NODES =
  [
    '  pub1: { host: 192.0.2.1 }',
    '  pub2: { host: 192.0.2.2 }',
    '  home: { host: 192.0.2.3, nat: true }',
    '  office: { host: jump.example.org, nat: true }',
  ].join('\n') + '\n';

test('behind NAT: no endpoint for peers, keepalives from the NAT side, no link between two NAT nodes', () => {
  const p = plan(NODES, 'mesh: { keepalive: 15, babeld: { enabled: false } }\n');
  const byName = new Map(p.nodes.map((np) => [np.node.name, np]));
  const pub1 = byName.get('pub1')!.links;
  assert.deepEqual(
    pub1.map((l) => [l.peer, l.endpointHost, l.keepalive]),
    [
      ['pub2', '192.0.2.2', 0],
      ['home', null, 0],
      ['office', null, 0],
    ],
  );
  const home = byName.get('home')!.links;
  assert.deepEqual(
    home.map((l) => [l.peer, l.endpointHost, l.keepalive]),
    [
      ['pub1', '192.0.2.1', 15],
      ['pub2', '192.0.2.2', 15],
    ],
    'no link to office: both are behind NAT',
  );
  // peers.conf, as RAIT reads it: the NAT'd nodes without an Endpoint.
  const peers = (TOML.parse(byName.get('pub1')!.files['peers.conf']) as { Peers: Record<string, unknown>[] }).Peers;
  assert.deepEqual(
    peers.map((x) => x.Endpoint),
    ['192.0.2.1', '192.0.2.2', undefined, undefined],
  );
});

test('an endpoint on a node behind NAT is refused, naming the field', () => {
  assert.throws(
    () =>
      parseInventory('/inv/nat.yaml', 'nodes:\n  a: { host: 192.0.2.1, nat: true, endpoint: 198.51.100.1 }\n  b: { host: 192.0.2.2 }\n'),
    /\/inv\/nat\.yaml:2:\d+: nodes\.a\.endpoint: a node behind NAT \(nat: true\) has no endpoint peers can reach/,
  );
});

test('status: a pair of nodes behind NAT is not expected, says why, and leaves the mesh healthy', () => {
  const p = makePlan(['n1', 'n2', 'n3', 'n4'], { nat: ['n3', 'n4'] });
  const h = analyzeMesh(p, names(p), probesFor(p));
  assert.equal(h.healthy, true, JSON.stringify(h.problems));
  const cell = h.links.find((l) => l.from === 'n3' && l.to === 'n4')!;
  assert.deepEqual([cell.status, cell.reason], ['not-expected', 'both behind NAT']);
  assert.equal(h.links.find((l) => l.from === 'n3' && l.to === 'n3')!.reason, undefined);
  assert.equal(h.links.filter((l) => l.status === 'up').length, 10);
});

test('agent: a link to a peer behind NAT keeps the address its handshakes came from; the NAT side sends keepalives', () => {
  // n1's recorded links have endpoints the peers gave them; with n2 behind NAT nothing differs.
  const towardsNat = runAgent<ApplyReport>({ ...n1Plan('', { n2: '{ host: 10.231.250.2, nat: true }' }), facts: { here: 'deployed' } });
  assert.deepEqual(towardsNat.report.links.updated, []);
  assert.equal(towardsNat.changes, '');
  // n1 itself behind NAT: every link gets its keepalive, the endpoints stay.
  const behind = runAgent<ApplyReport>({ ...n1Plan('', { n1: '{ host: 10.231.250.1, nat: true }' }), facts: { here: 'deployed' } });
  assert.deepEqual([...behind.report.links.updated].sort(), [link.n2, link.n3, link.n4].sort());
  for (const line of behind.changes.split('\n').filter(Boolean)) assert.match(line, / persistent-keepalive 25 /);
  // A new link to a peer behind NAT gets no endpoint.
  const missing = runAgent<ApplyReport>({ ...n1Plan('', { n2: '{ host: 10.231.250.2, nat: true }' }), facts: { here: 'link-deleted' } });
  const set = missing.changes.split('\n').find((l) => l.startsWith(`wg set ${link.n2} `))!;
  assert.doesNotMatch(set, / endpoint /);
});

test('endpoint names: looked up again when the handshake is stale, on the node alone too; left alone while it works', () => {
  // Facts of the recorded node whose handshakes are a few seconds old, for the "working" case.
  const fresh = mkdtempSync(join(tmpdir(), 'rf-fresh-'));
  const now = Math.floor(Date.now() / 1000);
  for (const f of ['ip', 'babel']) writeFileSync(join(fresh, f), readFileSync(join(factsDir('deployed'), f)));
  writeFileSync(
    join(fresh, 'wg'),
    readFileSync(join(factsDir('deployed'), 'wg'), 'utf8')
      .split('\n')
      .map((l) =>
        l.split('\t').length === 9
          ? l
              .split('\t')
              .map((f, i) => (i === 5 ? String(now - 10) : f))
              .join('\t')
          : l,
      )
      .join('\n'),
  );
  const plan = n1Plan('', { n2: '{ host: 10.231.250.2, endpoint: n2.dyn.example }' });
  const stale = new MadeUpNode({ facts: { here: 'deployed' }, hosts: '10.231.250.2 n2.dyn.example\n' });
  const working = new MadeUpNode({ facts: { here: fresh }, hosts: '10.231.250.2 n2.dyn.example\n' });
  try {
    // First deploy: the name is looked up (no plan applied before) and gives what the link has.
    for (const n of [stale, working]) assert.deepEqual(n.run<ApplyReport>(plan).report.links.updated, []);
    // n2 moves; its name follows.
    for (const n of [stale, working]) n.setHosts('10.231.250.99 n2.dyn.example\n');
    const healed = stale.resident<ApplyReport>(['apply', '--heal']);
    assert.deepEqual(healed.report.links.updated, [link.n2]);
    assert.match(healed.changes, new RegExp(`^wg set ${link.n2} .* endpoint 10\\.231\\.250\\.99:50000 `, 'm'));
    // A link that works stays on the address it has: no lookup, no change.
    const kept = working.resident<ApplyReport>(['apply', '--heal']);
    assert.deepEqual([kept.report.links.updated, kept.changes], [[], '']);
  } finally {
    for (const n of [stale, working]) n.remove();
    rmSync(fresh, { recursive: true, force: true });
  }
});
