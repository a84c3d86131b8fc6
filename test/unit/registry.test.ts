// The registry publish writes (issue 16; docs/pull-mode.md is its contract): built purely from the plan,
// never a private key, each node's file and the index verified by the real openssl as a node does, and
// `rait-fleet publish` through the real CLI (serials that only grow, bad input refused, key rotation).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseInventory } from '../../src/inventory/load.js';
import { planMesh } from '../../src/mesh/plan.js';
import { envelope, fleetIndex, nodeRegistry, type Publication } from '../../src/registry/format.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { generateSigningKey, signDetached } from '../../src/state/signing.js';
import { readState } from '../../src/state/store.js';
import { CLI, escapeRegExp } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const newDir = tempDirs('rf-registry-');

const YAML = [
  'mesh:',
  '  pull: { url: "https://mesh.example.org/rait", interval: 300 }',
  'nodes:',
  '  a: { host: 192.0.2.1, vars: { loopback: "fd00::a/128" } }',
  '  b: { host: 192.0.2.2 }',
  '  c: { host: 192.0.2.3, nat: true }',
  '  d: { host: "2001:db8::4", address_family: ip6 }',
  '',
].join('\n');

function samplePlan() {
  const inventory = parseInventory('/fleet/inv.yaml', YAML);
  const { state } = ensureKeys(inventory, { nodes: {} });
  return { plan: planMesh(inventory, state, { babeld: 'interface-count {{ links | size }}' }), state };
}

/** The file sections of a registry body, by name, as a node's awk reads them. */
function sections(body: string): Map<string, string> {
  const lines = body.split('\n');
  const files = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const m = /^file (\S+) (\d+) ([01])$/.exec(lines[i]!);
    if (!m) continue;
    const count = Number(m[2]);
    const text = lines.slice(i + 1, i + 1 + count).join('\n');
    files.set(m[1]!, count === 0 ? '' : text + (m[3] === '1' ? '\n' : ''));
    i += count;
  }
  return files;
}

const publication: Publication = { serial: 3, published: 1700000000, expires: 1700604800, signer: generateSigningKey().publicKey };

test("a node's registry: its public plan and files, rait.conf without the key, no enrollment, the publication inside", () => {
  const { plan } = samplePlan();
  for (const np of plan.nodes) {
    const body = nodeRegistry(np, plan, publication);
    assert.ok(!body.includes(np.keys.privateKey), `${np.node.name}: private key in the registry`);
    for (const other of plan.nodes) assert.ok(!body.includes(other.keys.privateKey));
    assert.ok(
      body.startsWith(
        `registry 1\nnode ${np.node.name}\nserial 3\npublished 1700000000\nexpires 1700604800\nsigner ${publication.signer}\nfile plan `,
      ),
    );
    assert.ok(body.endsWith('\nend\n'));
    const files = sections(body);
    assert.deepEqual(
      [...files.keys()],
      [
        'plan',
        'rait.conf',
        'peers.conf',
        'babeld.conf',
        'rait-fleet.service',
        'rait-fleet-heal.service',
        'rait-fleet-heal.timer',
        'rait-fleet-pull.service',
        'rait-fleet-pull.timer',
      ],
    );
    assert.equal(files.get('rait.conf'), np.files['rait.conf'].replace(np.keys.privateKey, '<redacted>'));
    assert.equal(files.get('peers.conf'), np.files['peers.conf']);
    // A file without a final newline arrives as it is.
    assert.equal(files.get('babeld.conf'), np.files['babeld.conf']);
    assert.ok(!np.files['babeld.conf']!.endsWith('\n'));
    for (const l of np.links) assert.ok(files.get('plan')!.includes(`\nlink ${l.name} ${l.listenPort} ${l.peerPublicKey} `));
  }
  const next = nodeRegistry(plan.nodes[0]!, plan, { ...publication, nextSigner: 'X'.repeat(43) + '=' });
  assert.match(next, /\nsigner .*\nnext_signer X{43}=\nfile plan/);
});

test('the index: the publication, the mesh settings and every node with its key, SendPort, family and endpoint', () => {
  const { plan, state } = samplePlan();
  const index = fleetIndex(plan, publication);
  assert.ok(index.startsWith(`rait-fleet-registry 1\nserial 3\n`));
  assert.match(index, /^mesh interface_prefix ip4 rait\nmesh interface_prefix ip6 rait$/m);
  assert.match(index, new RegExp(`^node a ${escapeRegExp(state.nodes.a!.publicKey)} ${state.nodes.a!.sendPort} ip4 192\\.0\\.2\\.1$`, 'm'));
  assert.match(index, new RegExp(`^node c ${escapeRegExp(state.nodes.c!.publicKey)} ${state.nodes.c!.sendPort} ip4 -$`, 'm'));
  assert.match(index, /^node d \S+ \d+ ip6 2001:db8::4$/m);
  for (const k of Object.values(state.nodes)) assert.ok(!index.includes(k.privateKey));
});

test('a dual-stack node: both rait.conf files without the key, and a line in the index per transport', () => {
  const yaml = [
    'mesh:',
    '  interface_prefix: { ip4: rait4x, ip6: rait6x }',
    '  pull: { url: "https://mesh.example.org/rait" }',
    'nodes:',
    '  a: { host: 192.0.2.1, address_family: [ip4, ip6], endpoint: [192.0.2.1, "2001:db8::1"] }',
    '  b: { host: 192.0.2.2, address_family: [ip4, ip6], endpoint: [192.0.2.2, "2001:db8::2"] }',
    '',
  ].join('\n');
  const inventory = parseInventory('/fleet/inv.yaml', yaml);
  const { state } = ensureKeys(inventory, { nodes: {} });
  const plan = planMesh(inventory, state, { babeld: 'interface-count {{ links | size }}' });
  const np = plan.nodes[0]!;
  const files = sections(nodeRegistry(np, plan, publication));
  for (const name of ['rait.conf', 'rait-ip6.conf'] as const) {
    assert.ok(np.files[name]!.includes(np.keys.privateKey), name);
    assert.equal(files.get(name), np.files[name]!.replace(np.keys.privateKey, '<redacted>'), name);
  }
  const index = fleetIndex(plan, publication);
  assert.match(index, /^mesh interface_prefix ip4 rait4x\nmesh interface_prefix ip6 rait6x$/m);
  const a = state.nodes.a!;
  const key = escapeRegExp(a.publicKey);
  assert.match(
    index,
    new RegExp(`^node a ${key} ${a.sendPort} ip4 192\\.0\\.2\\.1\nnode a ${key} ${a.sendPortIp6!} ip6 2001:db8::1$`, 'm'),
  );
});

/** openssl pkeyutl -verify, as a node runs it. */
function opensslVerifies(dir: string, publicKey: string, content: string, signature: string): boolean {
  writeFileSync(join(dir, 'key.pem'), `-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA${publicKey}\n-----END PUBLIC KEY-----\n`);
  writeFileSync(join(dir, 'content'), content);
  writeFileSync(join(dir, 'sig'), Buffer.from(signature, 'base64'));
  const args = [
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    join(dir, 'key.pem'),
    '-rawin',
    '-in',
    join(dir, 'content'),
    '-sigfile',
    join(dir, 'sig'),
  ];
  return spawnSync('openssl', args).status === 0;
}

test('signatures made here verify with openssl, and not after one byte changed', () => {
  const dir = newDir();
  const key = generateSigningKey();
  const { plan } = samplePlan();
  const body = nodeRegistry(plan.nodes[0]!, plan, { ...publication, signer: key.publicKey });
  const file = envelope(body, signDetached(key, Buffer.from(body)));
  const [first, ...rest] = file.split('\n');
  const signature = first!.split(' ')[2]!;
  assert.equal(rest.join('\n'), body);
  assert.ok(opensslVerifies(dir, key.publicKey, body, signature));
  assert.ok(!opensslVerifies(dir, key.publicKey, body.replace('serial 3', 'serial 9'), signature));
  assert.ok(!opensslVerifies(dir, generateSigningKey().publicKey, body, signature));
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, RAIT_FLEET_INVENTORY: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('rait-fleet publish: a signed directory, a serial that only grows, files of removed nodes gone; bad input refused', () => {
  const dir = newDir();
  const inv = join(dir, 'fleet.yaml');
  const out = join(dir, 'out');
  writeFileSync(inv, YAML);
  const first = cli('publish', inv, '--out', out, '--expires-in', '2d');
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^published registry serial 1 for 4 nodes in /);
  const state = readState(join(dir, 'fleet.state.toml'));
  assert.equal(state.signing!.serial, 1);
  assert.deepEqual(readdirSync(join(out, 'nodes')).sort(), ['a', 'b', 'c', 'd']);
  const index = readFileSync(join(out, 'registry'), 'utf8');
  assert.ok(opensslVerifies(newDir(), state.signing!.current.publicKey, index, readFileSync(join(out, 'registry.sig'), 'utf8').trim()));
  const expires = Number(/^expires (\d+)$/m.exec(index)![1]) - Number(/^published (\d+)$/m.exec(index)![1]);
  assert.equal(expires, 2 * 86400);
  const all = [index, ...readdirSync(join(out, 'nodes')).map((n) => readFileSync(join(out, 'nodes', n), 'utf8'))].join('');
  for (const k of [...Object.values(state.nodes).map((n) => n.privateKey), state.signing!.current.privateKey]) assert.ok(!all.includes(k));
  for (const name of ['a', 'b', 'c', 'd']) {
    const [head, ...rest] = readFileSync(join(out, 'nodes', name), 'utf8').split('\n');
    assert.ok(opensslVerifies(newDir(), state.signing!.current.publicKey, rest.join('\n'), head!.split(' ')[2]!), name);
  }

  // d leaves; an operator's own file beside the registry is left alone.
  writeFileSync(inv, YAML.replace(/^ {2}d: .*\n/m, ''));
  writeFileSync(join(out, 'index.html'), 'mine');
  const second = cli('publish', inv, '--out', out);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /serial 2 for 3 nodes/);
  assert.deepEqual(readdirSync(join(out, 'nodes')).sort(), ['a', 'b', 'c']);
  assert.equal(readFileSync(join(out, 'index.html'), 'utf8'), 'mine');

  // Rotation: the next key is named, then used once named.
  assert.match(cli('publish', inv, '--out', out, '--switch-signing-key').stderr, /--switch-signing-key: there is no next signing key/);
  const rotate = cli('keygen', inv, '--rotate-signing-key');
  assert.equal(rotate.code, 0, rotate.stderr);
  const next = readState(join(dir, 'fleet.state.toml')).signing!.next!.publicKey;
  assert.match(rotate.stdout, new RegExp(`^next signing key +${escapeRegExp(next)}$`, 'm'));
  assert.match(cli('publish', inv, '--out', out, '--switch-signing-key').stderr, /no registry named the next signing key yet/);
  assert.match(
    cli('publish', inv, '--out', out).stdout,
    new RegExp(`serial 3 .*\\nsigned by .*; names the next signing key ${escapeRegExp(next)}`),
  );
  assert.match(readFileSync(join(out, 'nodes', 'a'), 'utf8'), new RegExp(`^next_signer ${escapeRegExp(next)}$`, 'm'));
  const switched = cli('publish', inv, '--out', out, '--switch-signing-key');
  assert.match(switched.stdout, new RegExp(`serial 4 .*\\nsigned by ${escapeRegExp(next)}\\n`));
  assert.equal(readState(join(dir, 'fleet.state.toml')).signing!.next, undefined);

  // Refused before anything is written: no serial taken.
  const bad = cli('publish', inv, '--out', out, '--expires-in', '7 days');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--expires-in: expected a duration/);
  writeFileSync(inv, YAML.replace(/^ {2}pull: .*\n/m, ''));
  const noPull = cli('publish', inv, '--out', join(dir, 'other'));
  assert.equal(noPull.code, 2);
  assert.match(noPull.stderr, /fleet\.yaml: mesh\.pull: not set/);
  assert.equal(existsSync(join(dir, 'other')), false);
  assert.equal(readState(join(dir, 'fleet.state.toml')).signing!.serial, 4);
});
