import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFleet } from '../../src/run/fleet.js';

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((name) => ({ name }));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('never more than forks tasks at once, and all of them run', async () => {
  let running = 0;
  let peak = 0;
  const started: string[] = [];
  const results = await runFleet(nodes, { forks: 2, output: 'json', title: 't' }, async (node) => {
    started.push(node.name);
    running++;
    peak = Math.max(peak, running);
    await sleep(15);
    running--;
    return node.name.toUpperCase();
  });
  assert.equal(peak, 2);
  assert.equal(started.length, 6);
  assert.deepEqual(
    [...results.keys()],
    nodes.map((n) => n.name),
  );
  assert.deepEqual(
    [...results.values()].map((r) => r.ok && r.value),
    ['N1', 'N2', 'N3', 'N4', 'N5', 'N6'],
  );
});

test('a failing task fails only its node; results carry errors and durations', async () => {
  const out = capture();
  const results = await runFleet(
    nodes.slice(0, 3),
    { forks: 1, output: 'plain', title: 'deploy', stream: out.stream },
    async (node, setStep) => {
      setStep('connecting');
      await sleep(5);
      if (node.name === 'n1') throw new Error('connection refused');
      if (node.name === 'n2') throw 'not an Error';
      return 1;
    },
  );
  const n1 = results.get('n1')!;
  assert.ok(!n1.ok && n1.error.message === 'connection refused');
  const n2 = results.get('n2')!;
  assert.ok(!n2.ok && n2.error.message === 'not an Error');
  const n3 = results.get('n3')!;
  assert.ok(n3.ok && n3.value === 1);
  for (const r of results.values()) assert.ok(Number.isInteger(r.ms) && r.ms >= 0);
  const lines = out.text().split('\n');
  assert.equal(lines[0], 'deploy: 3 nodes, at most 1 at a time');
  // forks 1: events come strictly node after node.
  assert.deepEqual(lines.slice(1, 5), [
    '[n1] connecting',
    '[n1] failed: connection refused',
    '[n2] connecting',
    '[n2] failed: not an Error',
  ]);
  assert.equal(lines[5], '[n3] connecting');
  assert.match(lines[6], /^\[n3\] done in \d+\.\d s$/);
});

test('json output writes no progress at all', async () => {
  const out = capture();
  await runFleet(nodes.slice(0, 2), { forks: 7, output: 'json', title: 'status', stream: out.stream }, async (_n, setStep) => {
    setStep('reading status');
  });
  assert.equal(out.text(), '');
});

test('tty output runs every node through listr and still isolates failures', async () => {
  const out = capture();
  let running = 0;
  let peak = 0;
  const results = await runFleet(nodes, { forks: 3, output: 'tty', title: 'deploy', stream: out.stream }, async (node, setStep) => {
    running++;
    peak = Math.max(peak, running);
    setStep('applying plan');
    await sleep(10);
    running--;
    if (node.name === 'n4') throw new Error('agent crashed');
    return node.name;
  });
  assert.equal(peak, 3);
  assert.deepEqual(
    [...results.entries()].filter(([, r]) => !r.ok).map(([name]) => name),
    ['n4'],
  );
  assert.equal([...results.values()].filter((r) => r.ok).length, 5);
  assert.match(out.text(), /n4: failed: agent crashed/);
});

test('forks must be a positive integer', async () => {
  await assert.rejects(
    runFleet(nodes, { forks: 0, output: 'json', title: 't' }, async () => 1),
    /--forks/,
  );
});
