// What the exporter answers, as data: /metrics before and after a round, the index page, the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMesh } from '../../src/status/analyze.js';
import { METRICS_TYPE, respond, type ExporterState } from '../../src/exporter/pages.js';
import { formatListenAddress, parseListenAddress } from '../../src/exporter/listen-address.js';
import { parseExposition, valueOf } from '../fixtures/prometheus-text.js';
import { promtool, promtoolMissing } from '../fixtures/promtool.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const STARTED = Date.UTC(2026, 0, 1);

function withRound(): ExporterState {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, () => {}, { n3: { kind: 'unreachable', reason: 'connection refused' } });
  const round = { health: analyzeMesh(plan, names(plan), probes), probes, seconds: 1.5 };
  return {
    startedAt: STARTED,
    intervalSeconds: 30,
    last: { round, endedAt: STARTED + 40_000 },
    rounds: { ok: 2, error: 1 },
    lastError: 'bad <inventory>',
  };
}
const fresh = (): ExporterState => ({ startedAt: STARTED, intervalSeconds: 30, rounds: { ok: 0, error: 0 } });

test('before the first round: the age counts from the start, no round counted, no mesh series', () => {
  const page = respond('GET', '/metrics', fresh(), STARTED + 7_500);
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], METRICS_TYPE);
  const parsed = parseExposition(page.body);
  assert.deepEqual([...parsed.families.keys()], ['rait_status_round_age_seconds', 'rait_status_rounds_total']);
  assert.equal(valueOf(parsed, 'rait_status_round_age_seconds'), 7.5);
  assert.equal(valueOf(parsed, 'rait_status_rounds_total', { result: 'ok' }), 0);
  assert.equal(valueOf(parsed, 'rait_status_rounds_total', { result: 'error' }), 0);
  assert.match(respond('GET', '/', fresh(), STARTED + 7_500).body, /No status round has ended yet \(started 8 s ago\)/);
});

test("after a round: the round's series, then its age since it ended and the round counts", () => {
  const state = withRound();
  const parsed = parseExposition(respond('GET', '/metrics?x=1', state, STARTED + 52_000).body);
  const families = [...parsed.families.keys()];
  assert.equal(families[0], 'rait_mesh_healthy');
  assert.deepEqual(families.slice(-2), ['rait_status_round_age_seconds', 'rait_status_rounds_total']);
  assert.equal(valueOf(parsed, 'rait_status_round_age_seconds'), 12);
  assert.equal(valueOf(parsed, 'rait_status_rounds_total', { result: 'ok' }), 2);
  assert.equal(valueOf(parsed, 'rait_status_rounds_total', { result: 'error' }), 1);
  assert.equal(valueOf(parsed, 'rait_node_up', { node: 'n3' }), 0);
  assert.equal(valueOf(parsed, 'rait_link_up', { from: 'n1', to: 'n2' }), 1);
  assert.equal(valueOf(parsed, 'rait_status_round_duration_seconds'), 1.5);
});

test('the index page links /metrics and says how the last round went, the error escaped', () => {
  const page = respond('GET', '/', withRound(), STARTED + 52_000);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type']!, /^text\/html/);
  assert.match(page.body, /<a href="\/metrics">/);
  assert.match(page.body, /ended 12 s ago: 3 nodes, degraded/);
  assert.match(page.body, /bad &#60;inventory&#62;/);
});

test('other paths are 404, other methods 405; HEAD is answered like GET', () => {
  const state = withRound();
  assert.equal(respond('GET', '/metric', state, STARTED).status, 404);
  assert.equal(respond('GET', '/metrics/x', state, STARTED).status, 404);
  const post = respond('POST', '/metrics', state, STARTED);
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  assert.equal(respond('HEAD', '/metrics', state, STARTED).headers['content-type'], METRICS_TYPE);
});

test('promtool check metrics accepts what /metrics serves, before and after a round', { skip: promtoolMissing }, () => {
  for (const state of [fresh(), withRound()]) {
    const r = promtool(['check', 'metrics'], respond('GET', '/metrics', state, STARTED + 60_000).body);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), '', 'no lint warnings');
  }
});

test('--listen: address and port, IPv6 in brackets, an empty address for every address', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9455'), { host: '127.0.0.1', port: 9455 });
  assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListenAddress(':9455'), { port: 9455 });
  assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['9455', '127.0.0.1', '127.0.0.1:', '[127.0.0.1]:9', '::1:9455', 'a b:9', 'x;y:9', 'host.:9', 'h:65536', 'h:123456']) {
    assert.throws(() => parseListenAddress(bad), /^InputError: --listen: /, bad);
  }
  assert.equal(formatListenAddress({ host: '::1', port: 9 }), '[::1]:9');
  assert.equal(formatListenAddress({ host: '10.0.0.1', port: 9 }), '10.0.0.1:9');
});
