import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMesh } from '../../src/status/analyze.js';
import { formatStatus, statusDocument } from '../../src/status/format.js';
import { formatAge } from '../../src/status/faults.js';
import { parseInventory } from '../../src/inventory/load.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { planMesh } from '../../src/mesh/plan.js';
import { readTemplate } from '../../src/mesh/templates.js';
import { matrixOf } from '../fixtures/status-matrix.js';
import { makePlan, names, privateKeyOf, probesFor } from './status-fixtures.js';

test('human output: node table, matrix with one-sided and missing marks, legend, problems', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(
    plan,
    (name, r) => {
      if (name === 'n2') r.links = r.links.filter((l) => l.name !== 'rait50001');
    },
    { n3: { kind: 'unreachable', reason: 'connection timed out after 10 s' } },
  );
  const text = formatStatus(analyzeMesh(plan, names(plan), probes));
  assert.deepEqual(matrixOf(text), {
    n1: ['·', '!', '✓'],
    n2: ['✗', '·', '✓'],
    n3: ['?', '?', '·'],
  });
  assert.match(text, /^n1\s+ok\s+2\/2\s+2\s+2\s+no\s+systemd$/m);
  assert.match(text, /^n2\s+ok\s+1\/2\s+2\s+2\s+no\s+systemd$/m);
  assert.match(text, /^n3\s+unreachable\s+-\/2\s+-\s+-\s+-\s+-$/m);
  assert.match(text, /✓ up {2}! up here, broken at the other end {2}~ stale {2}✗ missing {2}· not expected {2}\? unknown/);
  assert.match(text, /^problems:\n {2}n3: unreachable — connection timed out after 10 s\n {2}n2 → n1: interface rait50001 missing on n2/m);
});

test('the mark of a one-sided pair sits on its working end, also when that end has lost its neighbour', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n2') r.links = r.links.filter((l) => l.name !== 'rait50001');
    if (name === 'n1') r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50002');
  });
  const text = formatStatus(analyzeMesh(plan, names(plan), probes));
  assert.deepEqual(matrixOf(text), {
    n1: ['·', '!', '✓'],
    n2: ['✗', '·', '✓'],
    n3: ['✓', '✓', '·'],
  });
});

test('human output of a healthy mesh says so instead of listing problems', () => {
  const plan = makePlan(['n1', 'n2', 'n3', 'n4']);
  const text = formatStatus(analyzeMesh(plan, names(plan), probesFor(plan)));
  assert.match(text, /^healthy: 12 links up, no drift$/m);
  assert.doesNotMatch(text, /problems:/);
});

test('--json document: the analysis plus raw facts per reporting node, and never a private key', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(
    plan,
    (name, r) => {
      if (name === 'n2') r.configHashes['rait.conf'] = '0'.repeat(64);
    },
    { n3: { kind: 'failed', reason: 'host key mismatch' } },
  );
  const health = analyzeMesh(plan, names(plan), probes);
  const json = JSON.stringify(statusDocument(health, probes));
  const doc = JSON.parse(json);
  assert.equal(doc.exitCode, 1);
  assert.deepEqual(Object.keys(doc.facts), ['n1', 'n2']);
  assert.deepEqual(Object.keys(doc.facts.n1).sort(), ['babel', 'links', 'versions', 'wireguard']);
  assert.equal(doc.facts.n1.links.length, 2);
  assert.equal(doc.nodes[1].drift, true);
  for (const i of [0, 1, 2]) {
    const secret = privateKeyOf(i);
    assert.ok(plan.nodes[i]!.files['rait.conf'].includes(secret), 'the fixture does carry the key');
    assert.ok(!json.includes(secret), `private key of n${i + 1} leaked into --json`);
  }
  assert.ok(!json.includes('PrivateKey'));
});

test('ages read the way people say them', () => {
  assert.deepEqual([45, 119, 840, 7200, 86400 * 3].map(formatAge), ['45 s', '119 s', '14 min', '2 h', '3 d']);
});

test('with a plan from the real planner: healthy replies are all up, and --json holds no key from rait.conf', () => {
  const inv = parseInventory(
    '/nonexistent/fleet.yaml',
    ['nodes:', ...['hk1', 'fra2', 'sfo3'].map((n) => `  ${n}: { host: ${n}.example.org }`)].join('\n'),
  );
  const { state } = ensureKeys(inv, { nodes: {} });
  const plan = planMesh(inv, state, { babeld: readTemplate(inv.mesh.babeld.template) });
  const probes = probesFor(plan);
  const health = analyzeMesh(plan, names(plan), probes);
  assert.equal(health.links.filter((l) => l.status === 'up').length, 6);
  assert.equal(health.exitCode, 0);
  const json = JSON.stringify(statusDocument(health, probes));
  for (const np of plan.nodes) {
    assert.ok(np.files['rait.conf'].includes(np.keys.privateKey), 'the planner puts the key into rait.conf');
    assert.ok(!json.includes(np.keys.privateKey), `private key of ${np.node.name} leaked into --json`);
  }
});

test('a matrix wider than the output gives way to one line per node with links not up, same marks', () => {
  const plan = makePlan(Array.from({ length: 40 }, (_, i) => `node${String(i + 1).padStart(2, '0')}`));
  const probes = probesFor(
    plan,
    (name, r) => {
      if (name === 'node02') r.links = r.links.filter((l) => l.name !== 'rait50001');
    },
    { node40: { kind: 'unreachable', reason: 'connection refused' } },
  );
  const health = analyzeMesh(plan, names(plan), probes);
  const text = formatStatus(health, { width: 120 });
  assert.ok(
    text.split('\n').every((line) => [...line].length <= 120),
    'no line wider than asked',
  );
  assert.doesNotMatch(text, /from \\ to/);
  const section = text.slice(text.indexOf('links not up'), text.indexOf('✓ up'));
  assert.equal(
    section,
    [
      'links not up (the 40-node matrix is wider than 120 columns; --matrix prints it):',
      '  from    to',
      '  node01  ! node02',
      '  node02  ✗ node01',
      // The others' ends towards the silent node still work, so only its own row is unknown.
      '  node40  ? every peer (did not report)',
      '',
    ].join('\n'),
  );
  // The whole matrix is still there when there is room for it.
  assert.match(formatStatus(health), /^from \\ to {2}node01/m);
});

test('the list of links not up of a wide healthy mesh says none', () => {
  const plan = makePlan(Array.from({ length: 40 }, (_, i) => `n${i + 1}`));
  const text = formatStatus(analyzeMesh(plan, names(plan), probesFor(plan)), { width: 80 });
  assert.match(text, /^links not up \(the 40-node matrix is wider than 80 columns; --matrix prints it\):\n {2}none$/m);
  assert.match(text, /^healthy: 1560 links up, no drift$/m);
});

test('a dual-stack pair is one matrix cell: the mark of its worse link', () => {
  const plan = makePlan(['n1', 'n2'], {
    families: [
      ['ip4', 'ip6'],
      ['ip4', 'ip6'],
    ],
  });
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n1') r.links = r.links.filter((l) => l.name !== 'rait6x50102');
  });
  const text = formatStatus(analyzeMesh(plan, names(plan), probes));
  assert.deepEqual(matrixOf(text), { n1: ['·', '✗'], n2: ['!', '·'] });
  assert.match(text, /^n1\s+ok\s+1\/2\s/m);
});
