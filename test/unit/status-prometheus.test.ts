// status --prometheus: the round in Prometheus' text format, on fixture replies, read back by a parser
// and by promtool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMesh } from '../../src/status/analyze.js';
import { escapeLabelValue, prometheusText } from '../../src/status/prometheus.js';
import type { NodeProbe } from '../../src/status/types.js';
import type { Plan } from '../../src/mesh/types.js';
import { parseExposition, valueOf } from '../fixtures/prometheus-text.js';
import { promtool, promtoolMissing } from '../fixtures/promtool.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const textOf = (plan: Plan, probes: Map<string, NodeProbe>, deployInProgress?: number): string =>
  prometheusText({ health: analyzeMesh(plan, names(plan), probes, { deployInProgress }), probes, seconds: 0.25 });

/** Three nodes: n2 lost its interface towards n1, n3 did not answer. */
function degraded(): { plan: Plan; text: string } {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(
    plan,
    (name, r) => {
      if (name !== 'n2') return;
      r.links = r.links.filter((l) => l.name !== 'rait50001');
      r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50001');
    },
    { n3: { kind: 'unreachable', reason: 'connection refused' } },
  );
  return { plan, text: textOf(plan, probes) };
}

const FAMILIES = [
  ['rait_mesh_healthy', 'gauge'],
  ['rait_deploy_in_progress', 'gauge'],
  ['rait_status_round_duration_seconds', 'gauge'],
  ['rait_node_up', 'gauge'],
  ['rait_node_drift', 'gauge'],
  ['rait_node_link_errors', 'gauge'],
  ['rait_babel_routes', 'gauge'],
  ['rait_link_up', 'gauge'],
  ['rait_link_handshake_age_seconds', 'gauge'],
  ['rait_link_receive_bytes_total', 'counter'],
  ['rait_link_transmit_bytes_total', 'counter'],
  ['rait_babel_neighbour_cost', 'gauge'],
  ['rait_babel_neighbour_rtt_seconds', 'gauge'],
];

test('a healthy mesh: every family once with HELP and TYPE, in a fixed order; one link series per planned link', () => {
  const plan = makePlan(['n1', 'n2', 'n3', 'n4']);
  const text = textOf(plan, probesFor(plan));
  const parsed = parseExposition(text);
  assert.deepEqual(
    [...parsed.families].map(([name, f]) => [name, f.type]),
    FAMILIES,
  );
  for (const [name, f] of parsed.families) assert.ok(f.help.length > 20, `${name} has a HELP text`);
  const up = parsed.samples.filter((s) => s.name === 'rait_link_up');
  assert.equal(up.length, 12, 'the diagonal has no series');
  assert.ok(up.every((s) => s.value === 1 && s.labels.from !== s.labels.to));
  assert.deepEqual(up[0]!.labels, { from: 'n1', to: 'n2', interface: 'rait50002', family: 'ip4' });
  assert.equal(valueOf(parsed, 'rait_mesh_healthy'), 1);
  assert.equal(valueOf(parsed, 'rait_status_round_duration_seconds'), 0.25);
  assert.equal(valueOf(parsed, 'rait_link_handshake_age_seconds', { from: 'n3', to: 'n1' }), 12);
  assert.equal(valueOf(parsed, 'rait_link_receive_bytes_total', { from: 'n3', to: 'n1' }), 1000);
  assert.equal(valueOf(parsed, 'rait_link_transmit_bytes_total', { from: 'n3', to: 'n1' }), 2000);
  assert.equal(valueOf(parsed, 'rait_babel_neighbour_cost', { from: 'n4', to: 'n2' }), 96);
  assert.equal(valueOf(parsed, 'rait_babel_neighbour_rtt_seconds', { from: 'n4', to: 'n2' }), 0.0015);
  assert.equal(valueOf(parsed, 'rait_babel_routes', { node: 'n2' }), 3);
  assert.equal(text, textOf(plan, probesFor(plan)), 'the same round gives the same text');
});

test('a node that did not answer: node_up 0, its links 0 with nothing measured, the others still there', () => {
  const { text } = degraded();
  const samples = parseExposition(text)
    .samples.filter(
      (s) => s.name !== 'rait_status_round_duration_seconds' && !s.name.startsWith('rait_link_') && !s.name.startsWith('rait_babel_n'),
    )
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`);
  assert.deepEqual(samples, [
    'rait_mesh_healthy{} 0',
    'rait_deploy_in_progress{} 0',
    'rait_node_up{"node":"n1"} 1',
    'rait_node_up{"node":"n2"} 1',
    'rait_node_up{"node":"n3"} 0',
    // Drift, errors and routes of a node that did not answer are unknown, not 0.
    'rait_node_drift{"node":"n1"} 0',
    'rait_node_drift{"node":"n2"} 0',
    'rait_node_link_errors{"node":"n1"} 0',
    'rait_node_link_errors{"node":"n2"} 0',
    'rait_babel_routes{"node":"n1"} 2',
    'rait_babel_routes{"node":"n2"} 2',
  ]);
  const parsed = parseExposition(text);
  const series = (name: string): string[] =>
    parsed.samples.filter((s) => s.name === name).map((s) => `${s.labels.from}>${s.labels.to} ${s.value}`);
  assert.deepEqual(series('rait_link_up'), ['n1>n2 1', 'n1>n3 1', 'n2>n1 0', 'n2>n3 1', 'n3>n1 0', 'n3>n2 0']);
  // Measured only where the interface is: not n2's deleted one, nothing of silent n3.
  for (const name of ['rait_link_handshake_age_seconds', 'rait_link_receive_bytes_total', 'rait_babel_neighbour_cost']) {
    assert.deepEqual(
      series(name).map((s) => s.split(' ')[0]),
      ['n1>n2', 'n1>n3', 'n2>n3'],
      name,
    );
  }
});

test('label values are escaped: backslash, double quote and newline', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const odd = 'n"2\\x\ny';
  const plan = makePlan(['n1', odd]);
  const text = textOf(plan, probesFor(plan));
  assert.match(text, /^rait_link_up\{from="n1",to="n\\"2\\\\x\\ny",interface="rait50002",family="ip4"\} 1$/m);
  assert.equal(valueOf(parseExposition(text), 'rait_node_up', { node: odd }), 1, 'and read back as they were');
});

test('a deploy in progress and drift are flagged; babeld disabled leaves out the babel families', () => {
  const plan = makePlan(['n1', 'n2'], { babeld: false });
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n2') {
      r.configHashes['peers.conf'] = '0'.repeat(64);
      r.linkErrors.rait50001 = 'endpoint n1.invalid does not resolve (ip4)';
    }
  });
  const parsed = parseExposition(textOf(plan, probes, 4242));
  assert.equal(valueOf(parsed, 'rait_deploy_in_progress'), 1);
  assert.equal(valueOf(parsed, 'rait_mesh_healthy'), 0);
  assert.equal(valueOf(parsed, 'rait_node_drift', { node: 'n2' }), 1);
  assert.equal(valueOf(parsed, 'rait_node_link_errors', { node: 'n2' }), 1);
  assert.deepEqual(
    [...parsed.families.keys()].filter((f) => f.startsWith('rait_babel')),
    [],
  );
  assert.doesNotMatch(parsed.families.get('rait_link_up')!.help, /babel/);
});

test('of two babel neighbours on one interface, the cheaper is the one shown', () => {
  const plan = makePlan(['n1', 'n2']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n1')
      r.babel.neighbours.unshift({
        interface: 'rait50002',
        address: 'fe80::99',
        rxcost: 0xffff,
        txcost: 0xffff,
        cost: 0xffff,
        rtt: null,
        reach: '0000',
      });
  });
  const parsed = parseExposition(textOf(plan, probes));
  assert.equal(valueOf(parsed, 'rait_babel_neighbour_cost', { from: 'n1' }), 96);
  assert.equal(valueOf(parsed, 'rait_babel_neighbour_rtt_seconds', { from: 'n1' }), 0.0015);
});

test('promtool check metrics accepts the output, healthy and degraded', { skip: promtoolMissing }, () => {
  const plan = makePlan(['n1', 'n2', 'n3', 'n4']);
  for (const text of [textOf(plan, probesFor(plan)), degraded().text]) {
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), '', 'no lint warnings');
  }
});
