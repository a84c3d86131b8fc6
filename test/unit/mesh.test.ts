import assert from 'node:assert/strict';
import TOML from '@iarna/toml';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { keySeed, linkLocal } from '../../src/mesh/link-local.js';
import { planMesh } from '../../src/mesh/plan.js';
import { redactSecrets } from '../../src/mesh/redact.js';
import { isPrefix } from '../../src/mesh/routed-vars.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { generatePrivateKey, publicKeyOf } from '../../src/state/keys.js';
import { FIXTURE_FILE, inventory } from '../fixtures/inventories.js';

const NO_BABELD = 'babeld: { enabled: false }';

function planOf(nodes: string[], mesh: string[] = [NO_BABELD]) {
  const inv = inventory(nodes, mesh);
  const { state } = ensureKeys(inv, { nodes: {} });
  return { inv, state, plan: planMesh(inv, state, {}) };
}

test('links: one per same-family peer, named by the peer SendPort, endpoint = peer : own SendPort', () => {
  const { plan, state } = planOf(
    [
      'a: { host: 192.0.2.1, endpoint: a.example.org }',
      'b: { host: 192.0.2.2 }',
      'c: { host: 192.0.2.3, send_port: 50500 }',
      'v6: { host: "2001:db8::1", address_family: ip6 }',
    ],
    ['interface_prefix: wg', NO_BABELD],
  );
  const a = plan.nodes[0]!;
  const b = plan.nodes[1]!;
  assert.deepEqual(
    a.links.map((l) => l.peer),
    ['b', 'c'],
  );
  const ab = a.links[0]!;
  assert.equal(ab.name, `wg${state.nodes.b!.sendPort}`);
  assert.equal(ab.listenPort, state.nodes.b!.sendPort);
  assert.equal(ab.endpointHost, '192.0.2.2');
  assert.equal(ab.endpointPort, state.nodes.a!.sendPort);
  assert.equal(ab.peerPublicKey, state.nodes.b!.publicKey);
  assert.deepEqual(
    b.links.map((l) => [l.name, l.endpointHost]),
    [
      [`wg${state.nodes.a!.sendPort}`, 'a.example.org'],
      ['wg50500', '192.0.2.3'],
    ],
  );
  // ip6 node alone in its family: no links; ip4 nodes never link to it.
  assert.deepEqual(plan.nodes[3]!.links, []);
  assert.ok(plan.nodes.every((np) => np.links.every((l) => (l.peer !== np.node.name && l.peer !== 'v6') || np.node.name === 'v6')));
});

test('link-locals: fe80::/64, different at the two ends, stable across runs and plans', () => {
  const { inv, state, plan } = planOf(['a: { host: 192.0.2.1 }', 'b: { host: 192.0.2.2 }', 'c: { host: 192.0.2.3 }']);
  const [ab, ac] = plan.nodes[0]!.links;
  const ba = plan.nodes[1]!.links[0]!;
  assert.match(ab!.linkLocal, /^fe80::[1-9a-f][0-9a-f]{0,3}(:[0-9a-f]{1,4}){3}\/64$/);
  assert.notEqual(ab!.linkLocal, ba.linkLocal);
  assert.notEqual(ab!.linkLocal, ac!.linkLocal);
  assert.deepEqual(
    planMesh(inv, state, {}).nodes.map((n) => n.links),
    plan.nodes.map((n) => n.links),
  );
  // Derived from the keys alone.
  const key = (n: string) => keySeed(state.nodes[n]!.publicKey);
  assert.equal(linkLocal(key('a'), key('b')), ab!.linkLocal);
});

test('link-locals are canonical IPv6 text and spread out', () => {
  const seeds = Array.from({ length: 60 }, () => keySeed(publicKeyOf(generatePrivateKey())));
  const seen = new Set<string>();
  for (const x of seeds) for (const y of seeds) if (x !== y) seen.add(linkLocal(x, y));
  assert.equal(seen.size, 60 * 59);
  for (const ll of seen) assert.doesNotMatch(ll, /::0:|:0[0-9a-f]/);
});

test('rait.conf is valid TOML with RAIT v2.4.1 fields', () => {
  const { plan, state } = planOf(
    ['a: { host: 192.0.2.1 }', 'b: { host: 192.0.2.2 }'],
    ['isolation: netns', 'interface_namespace: raitns', 'config_dir: /srv/rait', 'mtu: 1420', NO_BABELD],
  );
  const conf = TOML.parse(plan.nodes[0]!.files['rait.conf']);
  assert.deepEqual(conf, {
    PrivateKey: state.nodes.a!.privateKey,
    AddressFamily: 'ip4',
    SendPort: state.nodes.a!.sendPort,
    InterfacePrefix: 'rait',
    InterfaceGroup: 54,
    MTU: 1420,
    FwMark: 54,
    Isolation: 'netns',
    InterfaceNamespace: 'raitns',
    TransitNamespace: '',
    Peers: '/srv/rait/peers.conf',
  });
  assert.equal(
    TOML.parse(planOf(['a: { host: x.example }'], ['isolation: vrf', NO_BABELD]).plan.nodes[0]!.files['rait.conf']).Isolation,
    'vrf',
  );
});

test('peers.conf: the whole mesh, valid TOML, one shared string', () => {
  const { plan, state } = planOf(['a: { host: 192.0.2.1, endpoint: a.example.org }', 'v6: { host: "2001:db8::1", address_family: ip6 }']);
  const peers = TOML.parse(plan.nodes[0]!.files['peers.conf']);
  assert.deepEqual(peers, {
    Peers: [
      { PublicKey: state.nodes.a!.publicKey, SendPort: state.nodes.a!.sendPort, Endpoint: 'a.example.org', AddressFamily: 'ip4' },
      { PublicKey: state.nodes.v6!.publicKey, SendPort: state.nodes.v6!.sendPort, Endpoint: '2001:db8::1', AddressFamily: 'ip6' },
    ],
  });
  assert.equal(plan.nodes[0]!.files['peers.conf'], plan.nodes[1]!.files['peers.conf']);
  assert.doesNotMatch(plan.nodes[0]!.files['peers.conf'], new RegExp(state.nodes.a!.privateKey.replace(/[+/]/g, '\\$&')));
});

test('routed vars must be prefixes: errors name the node and the var', async (t) => {
  const cases: [string, string][] = [
    ['loopback: "fd00::1; rm"', 'nodes.a.vars.loopback'],
    ['loopback: "10.0.0.1/32"', 'nodes.a.vars.loopback'],
    ['loopback4: "fd00::1/128"', 'nodes.a.vars.loopback4'],
    ['loopback4: "10.0.0.1/33"', 'nodes.a.vars.loopback4'],
    ['prefixes: "10.0.0.0/8"', 'nodes.a.vars.prefixes'],
    ['prefixes: ["10.0.0.0/8", "x"]', 'nodes.a.vars.prefixes[1]'],
    ['loopback: 42', 'nodes.a.vars.loopback'],
    // The README calls them prefixes, and babeld's filters want the length.
    ['loopback: "fd00::1"', 'nodes.a.vars.loopback'],
    ['loopback4: "10.0.0.1"', 'nodes.a.vars.loopback4'],
  ];
  for (const [vars, field] of cases) {
    await t.test(vars, () => {
      assert.throws(
        () => planOf([`a: { host: 192.0.2.1, vars: { ${vars} } }`]),
        (e: unknown) => e instanceof InputError && e.where.field === field && e.message.startsWith(FIXTURE_FILE),
      );
    });
  }
  assert.doesNotThrow(() =>
    planOf([
      'a: { host: 192.0.2.1, vars: { loopback: "fd00::1/128", loopback4: "10.1.1.1/32", prefixes: ["fd00:1::/48", "10.2.0.0/16"], other: "free; form" } }',
    ]),
  );
});

test('isPrefix', () => {
  assert.ok(isPrefix('fd00::/8', 6));
  assert.ok(!isPrefix('10.0.0.1', 4));
  assert.ok(isPrefix('10.0.0.1/32', 4));
  assert.ok(isPrefix('10.0.0.0/8', 0));
  assert.ok(!isPrefix('10.0.0.0/8/8', 0));
  assert.ok(!isPrefix('fd00::/129', 6));
  assert.ok(!isPrefix('', 0));
});

test('babeld enabled without a template text is a programming error', () => {
  const inv = inventory(['a: { host: 192.0.2.1 }']);
  assert.throws(() => planMesh(inv, ensureKeys(inv, { nodes: {} }).state, {}), /no babeld template/);
});

test('planning without keys for a node fails clearly', () => {
  const inv = inventory(['a: { host: 192.0.2.1 }'], [NO_BABELD]);
  assert.throws(() => planMesh(inv, { nodes: {} }, {}), /no keys for node a/);
});

test('redactSecrets replaces every occurrence', () => {
  const key = generatePrivateKey();
  assert.equal(redactSecrets(`a ${key} b ${key}`, [key]), 'a <redacted> b <redacted>');
  assert.equal(redactSecrets('plain', ['']), 'plain');
});
