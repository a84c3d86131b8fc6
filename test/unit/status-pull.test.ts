// status in pull mode (issue 16): the registry serial each node runs and its age, and a node behind
// the newest published serial, expired or not enrolled is a problem with its reason. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodePull } from '../../src/agent/report.js';
import { analyzeMesh } from '../../src/status/analyze.js';
import { formatStatus } from '../../src/status/format.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const NOW = 1_800_000_000;
const ran = (serial: number | null, over: Partial<NodePull> = {}): NodePull => ({
  serial,
  published: serial === null ? null : NOW - 3 * 3600,
  expires: serial === null ? null : NOW + 86400,
  lastAttempt: NOW - 120,
  lastError: '',
  ...over,
});

test('every node on the newest registry: healthy, the serial and its age in the table', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const h = analyzeMesh(
    plan,
    names(plan),
    probesFor(plan, (_, r) => (r.pull = ran(7))),
    { publishedSerial: 7, now: NOW },
  );
  assert.deepEqual(h.problems, []);
  assert.equal(h.healthy, true);
  assert.deepEqual(h.nodes[0]!.registry, { serial: 7, age: 3 * 3600 });
  assert.match(formatStatus(h), /^node +state .* boot +registry$/m);
  assert.match(formatStatus(h), /^n1 +ok .* 7 \(3 h\)$/m);
  // Without pull mode, no column and no registry.
  const push = analyzeMesh(plan, names(plan), probesFor(plan));
  assert.equal(push.nodes[0]!.registry, null);
  assert.doesNotMatch(formatStatus(push), /registry/);
});

test('behind, never pulled, failing, expired or not enrolled: a problem each, with its reason; exit 1', () => {
  const plan = makePlan(['n1', 'n2', 'n3', 'n4', 'n5']);
  const pulls: Record<string, NodePull | undefined> = {
    n1: ran(7),
    n2: ran(5, { lastAttempt: NOW - 600, lastError: 'registry refused, links untouched: cannot fetch http://r/nodes/n2: timed out' }),
    n3: ran(6),
    n4: ran(null, { lastAttempt: null }),
    n5: undefined,
  };
  const probes = probesFor(plan, (name, r) => {
    if (pulls[name]) r.pull = pulls[name];
  });
  const h = analyzeMesh(plan, names(plan), probes, { publishedSerial: 7, now: NOW });
  assert.equal(h.healthy, false);
  assert.deepEqual(h.problems, [
    'n2: runs registry serial 5, the newest published is 7 — its last pull (10 min ago) failed: registry refused, links untouched: cannot fetch http://r/nodes/n2: timed out',
    'n3: runs registry serial 6, the newest published is 7 — its last pull (2 min ago) found nothing newer: is the published directory uploaded to mesh.pull.url?',
    'n4: runs no registry yet, the newest published is serial 7 — it has not pulled yet: wait for its timer, or run rait-fleet-agent pull there',
    'n5: not enrolled for pull mode (mesh.pull is set) — run deploy',
  ]);
  assert.match(formatStatus(h), /^n2 +ok .* 5 \(3 h\) !$/m);
  assert.match(formatStatus(h), /^n4 +ok .* none !$/m);

  const expired = analyzeMesh(
    plan,
    ['n1'],
    probesFor(plan, (_, r) => (r.pull = ran(7, { expires: NOW - 7200 }))),
    {
      publishedSerial: 7,
      now: NOW,
    },
  );
  assert.deepEqual(expired.problems, ['n1: its registry (serial 7) expired 2 h ago — publish again and upload it']);
  // Nothing published yet: a node without a registry is as it should be.
  const fresh = analyzeMesh(
    plan,
    ['n1'],
    probesFor(plan, (_, r) => (r.pull = ran(null, { lastAttempt: null }))),
    {
      publishedSerial: 0,
      now: NOW,
    },
  );
  assert.deepEqual(fresh.problems, []);
});
