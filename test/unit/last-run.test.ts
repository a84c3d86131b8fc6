import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import {
  emptyLastRun,
  formatLastRun,
  markStarted,
  nodesToRetry,
  parseLastRun,
  readLastRun,
  recordEnd,
  recordOutcomes,
  recordStart,
  selectFailed,
  type LastRun,
} from '../../src/run/last-run.js';
import type { NodeOutcome } from '../../src/run/outcome.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const newDir = tempDirs('rf-last-run-');

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';
const nodes = (...names: string[]) => names.map((name) => ({ name }));
const outcome = (node: string, result: NodeOutcome['result'], error?: string): NodeOutcome => ({
  node,
  result,
  ms: 5,
  ...(error ? { error } : {}),
});

test('a started run marks its nodes interrupted and keeps the others', () => {
  const before: LastRun = { version: 1, nodes: { n3: { result: 'failed', at: T0, error: 'boom' } } };
  const started = markStarted(before, ['n1', 'n2'], T1);
  assert.deepEqual(started.nodes, {
    n1: { result: 'interrupted', at: T1 },
    n2: { result: 'interrupted', at: T1 },
    n3: { result: 'failed', at: T0, error: 'boom' },
  });
  assert.deepEqual(before.nodes.n1, undefined, 'input not mutated');
});

test('outcomes replace the entries of the nodes they cover, with their reasons', () => {
  const started = markStarted(emptyLastRun(), ['n1', 'n2', 'n3'], T0);
  const done = recordOutcomes(started, [outcome('n1', 'changed'), outcome('n2', 'unreachable', 'connect timed out')], T1);
  assert.deepEqual(done.nodes, {
    n1: { result: 'changed', at: T1 },
    n2: { result: 'unreachable', at: T1, error: 'connect timed out' },
    n3: { result: 'interrupted', at: T0 },
  });
});

test('nodes to retry: failed, unreachable and interrupted ones among the candidates, in their order', () => {
  const last: LastRun = {
    version: 1,
    nodes: {
      a: { result: 'changed', at: T0 },
      b: { result: 'failed', at: T0 },
      c: { result: 'unchanged', at: T0 },
      d: { result: 'interrupted', at: T0 },
      e: { result: 'unreachable', at: T0 },
    },
  };
  assert.deepEqual(nodesToRetry(last, nodes('e', 'a', 'b', 'c', 'd', 'new')), nodes('e', 'b', 'd'));
  // --limit narrows the candidates: the intersection.
  assert.deepEqual(nodesToRetry(last, nodes('a', 'b')), nodes('b'));
  assert.deepEqual(nodesToRetry(last, nodes('a', 'c')), []);
});

test('format -> parse round-trips; damaged records are InputErrors naming file and field', () => {
  const last = recordOutcomes(emptyLastRun(), [outcome('n1', 'failed', 'agent: missing program wg')], T0);
  assert.deepEqual(parseLastRun('/r.json', formatLastRun(last)), last);
  const cases: [string, RegExp][] = [
    ['{', /\/r\.json: damaged last-run record/],
    ['[]', /\(root\): expected an object/],
    ['{"version":2,"nodes":{}}', /version: expected 1/],
    ['{"version":1}', /nodes: expected an object/],
    ['{"version":1,"nodes":{"n1":{"result":"maybe","at":"x"}}}', /nodes\.n1\.result: expected one of/],
    ['{"version":1,"nodes":{"n1":{"result":"failed"}}}', /nodes\.n1\.at: expected a time/],
    ['{"version":1,"nodes":{"n1":{"result":"failed","at":"x","error":3}}}', /nodes\.n1\.error: expected a string/],
  ];
  for (const [text, msg] of cases)
    assert.throws(
      () => parseLastRun('/r.json', text),
      (e: unknown) => e instanceof InputError && msg.test(e.message),
      text,
    );
});

test('the record on disk: absent, written 0600 without temp files, and required by --retry-failed', () => {
  const dir = newDir();
  const path = join(dir, 'fleet.state.toml.last-run.json');
  assert.equal(readLastRun(path), undefined);
  assert.throws(
    () => selectFailed(path, nodes('n1')),
    (e: unknown) => e instanceof InputError && /--retry-failed: no previous deploy/.test(e.message),
  );
  recordStart(path, ['n1', 'n2']);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(selectFailed(path, nodes('n1', 'n2')), nodes('n1', 'n2'));
  recordEnd(path, [outcome('n1', 'unchanged'), outcome('n2', 'failed', 'x')]);
  assert.deepEqual(selectFailed(path, nodes('n1', 'n2')), nodes('n2'));
  assert.deepEqual(readdirSync(dir), ['fleet.state.toml.last-run.json']);
  writeFileSync(path, 'garbage');
  assert.throws(() => selectFailed(path, nodes('n1')), InputError);
});
