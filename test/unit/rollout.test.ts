// The pure parts of a safe rollout (issue 18): batches from --serial, the --max-fail rule, the flags
// checked together, the health gate's verdict on status data, and the words at the end.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batchesOf, parseMaxFail, parseSerial, tooManyFailed } from '../../src/rollout/batches.js';
import { confirmSeconds, rolloutOptions } from '../../src/rollout/flags.js';
import { gatedLinks, gateVerdict, type GateRound } from '../../src/rollout/gate.js';
import { deployId, type RolloutReport } from '../../src/rollout/run.js';
import { formatRollout } from '../../src/rollout/summary.js';
import { SNAPSHOT_ID } from '../../src/agent/validate.js';
import { analyzeMesh } from '../../src/status/analyze.js';
import type { StatusReport } from '../../src/agent/report.js';
import type { NodeProbe } from '../../src/status/types.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
const sizes = (batches: string[][]): number[] => batches.map((b) => b.length);

describe('--serial: batches as Ansible makes them', () => {
  it('numbers and percentages of all the nodes, the last size repeating', () => {
    assert.deepEqual(sizes(batchesOf(nodes(10), parseSerial('1,25%,100%'))), [1, 2, 7]);
    assert.deepEqual(sizes(batchesOf(nodes(10), parseSerial('3'))), [3, 3, 3, 1]);
    assert.deepEqual(sizes(batchesOf(nodes(10), parseSerial('1,20%'))), [1, 2, 2, 2, 2, 1]);
    assert.deepEqual(batchesOf(nodes(3), parseSerial('1,1')), [['n1'], ['n2'], ['n3']]);
  });

  it('a percentage rounds down but is at least one node; a size past the end takes what is left', () => {
    assert.deepEqual(sizes(batchesOf(nodes(3), parseSerial('10%'))), [1, 1, 1]);
    assert.deepEqual(sizes(batchesOf(nodes(4), parseSerial('50%,100%'))), [2, 2]);
    assert.deepEqual(sizes(batchesOf(nodes(2), parseSerial('5'))), [2]);
    assert.deepEqual(batchesOf([], parseSerial('1')), []);
  });

  it('bad sizes are refused naming the flag', () => {
    for (const bad of ['0', '0%', '101%', '-1', '1,,2', '', 'a', '1.5', ' , ']) {
      assert.throws(() => parseSerial(bad), /--serial: expected /, bad);
    }
    assert.deepEqual(parseSerial(' 1 , 25% '), [{ nodes: 1 }, { percent: 25 }]);
  });
});

describe('--max-fail: more than that many failed nodes of a batch stop the rollout', () => {
  it('a number of nodes', () => {
    assert.equal(tooManyFailed(0, 5, parseMaxFail('0')), false);
    assert.equal(tooManyFailed(1, 5, parseMaxFail('0')), true);
    assert.equal(tooManyFailed(2, 5, parseMaxFail('2')), false);
    assert.equal(tooManyFailed(3, 5, parseMaxFail('2')), true);
  });

  it('a percentage of the batch, strictly more than it (Ansible: max_fail_percentage)', () => {
    assert.equal(tooManyFailed(1, 4, parseMaxFail('25%')), false);
    assert.equal(tooManyFailed(2, 4, parseMaxFail('25%')), true);
    assert.equal(tooManyFailed(1, 3, parseMaxFail('30%')), true);
    assert.equal(tooManyFailed(3, 3, parseMaxFail('100%')), false);
    assert.equal(tooManyFailed(1, 1, parseMaxFail('0%')), true);
  });

  it('bad values are refused naming the flag', () => {
    for (const bad of ['-1', '101%', 'x', '1.5']) assert.throws(() => parseMaxFail(bad), /--max-fail: /, bad);
  });
});

describe('the rollout flags together', () => {
  it('defaults: every deploy confirmed within 30 s, no batches', () => {
    assert.deepEqual(rolloutOptions({}), { maxFail: { nodes: 0 }, gateTimeoutS: 30, confirmTimeoutS: 30 });
    assert.deepEqual(rolloutOptions({ serial: [{ nodes: 1 }], maxFail: { percent: 10 }, gateTimeout: 60, confirmTimeout: 0 }), {
      serial: [{ nodes: 1 }],
      maxFail: { percent: 10 },
      gateTimeoutS: 60,
      confirmTimeoutS: 0,
    });
  });

  it('what only a gate uses needs --serial; nothing of it goes with --check', () => {
    assert.throws(() => rolloutOptions({ maxFail: { nodes: 1 } }), /^InputError: --max-fail: only with --serial/);
    assert.throws(() => rolloutOptions({ gateTimeout: 10 }), /^InputError: --gate-timeout: only with --serial/);
    assert.throws(() => rolloutOptions({ check: true, confirmTimeout: 10 }), /^InputError: --confirm-timeout: not with --check/);
    assert.doesNotThrow(() => rolloutOptions({ check: true }));
  });

  it('--confirm-timeout: 0 or 5 s to an hour', () => {
    assert.equal(confirmSeconds('0'), 0);
    assert.equal(confirmSeconds('5'), 5);
    for (const bad of ['4', '1', '3601', '-1', 'x', '']) assert.throws(() => confirmSeconds(bad), /--confirm-timeout: /, bad);
  });

  it('a deploy id the agent accepts, sortable by time', () => {
    const id = deployId(new Date('2025-03-04T05:06:07.890Z'), '0a1b2c3d');
    assert.equal(id, '20250304T050607-0a1b2c3d');
    assert.match(deployId(), SNAPSHOT_ID);
  });
});

describe('the health gate', () => {
  const plan = makePlan(['n1', 'n2', 'n3', 'n4']);
  const round = (edit?: (name: string, r: StatusReport) => void, instead?: Record<string, NodeProbe>): GateRound => {
    const probes = probesFor(plan, edit, instead);
    return { health: analyzeMesh(plan, names(plan), probes), probes };
  };
  /** Every link has received more since `first`. */
  const later = (edit?: (name: string, r: StatusReport) => void, instead?: Record<string, NodeProbe>): GateRound =>
    round((name, r) => {
      for (const l of r.links) l.rxBytes += 500;
      edit?.(name, r);
    }, instead);
  const linkTo = (r: StatusReport, peer: string) => r.links.find((l) => l.name === `rait${50001 + Number(peer.slice(1)) - 1}`)!;
  const verdict = (batch: string[], deployed: string[], first: GateRound, now: GateRound, deployFailed = new Map<string, string>()) =>
    gateVerdict({ batch, links: gatedLinks(batch, new Set(deployed), first.health), deployFailed, first, now, babeld: true });

  it('checks the links to earlier batches, within the batch, and to nodes whose end is already as planned', () => {
    // n4's end towards n1 still has the old listen port: n4 is not on the plan yet, its link waits.
    const first = round((name, r) => {
      if (name === 'n4') linkTo(r, 'n1').listenPort = 40000;
    });
    const links = gatedLinks(['n1', 'n2'], new Set(['n3']), first.health);
    assert.deepEqual(links, [
      { node: 'n1', peer: 'n2' },
      { node: 'n1', peer: 'n3' },
      { node: 'n2', peer: 'n1' },
      { node: 'n2', peer: 'n3' },
      { node: 'n2', peer: 'n4' },
    ]);
  });

  it('passes when every checked link is up at both ends and received packets during the gate', () => {
    const first = round();
    assert.deepEqual(verdict(['n1'], [], first, later()), { passed: true, failing: [] });
  });

  it('fails a link that carries no new packets, though its old handshake and neighbour still look fine', () => {
    const first = round();
    const now = later((name, r) => {
      if (name === 'n4') linkTo(r, 'n1').rxBytes = 1000;
    });
    assert.deepEqual(verdict(['n1'], [], first, now), {
      passed: false,
      failing: [{ node: 'n1', reasons: ['n4 → n1 (rait50001): no packets received since the gate began'] }],
    });
    // Right after the deploy, the baseline itself: nothing can have been received yet.
    assert.equal(verdict(['n1'], [], first, first).passed, false);
  });

  it('fails a link without a handshake, naming both ends; only the batch node counts as failed', () => {
    const first = round();
    const now = later((name, r) => {
      if (name === 'n1') linkTo(r, 'n2').handshakeAge = null;
    });
    const v = verdict(['n1'], ['n2', 'n3', 'n4'], first, now);
    assert.deepEqual(v.failing, [{ node: 'n1', reasons: ['n1 → n2 (rait50002): no handshake yet'] }]);
  });

  it('a batch node whose deploy failed, or that does not answer, fails; a silent settled peer fails its link', () => {
    const first = round();
    const now = later(undefined, {
      n2: { kind: 'unreachable', reason: 'n2: timed out' },
      n3: { kind: 'unreachable', reason: 'n3: refused' },
    });
    const v = verdict(['n1', 'n2'], ['n3'], first, now, new Map([['n1', 'agent exited with code 1']]));
    assert.deepEqual(v.failing, [
      { node: 'n1', reasons: ['deploy failed: agent exited with code 1'] },
      { node: 'n2', reasons: ["did not answer the gate's status round: n2: timed out"] },
    ]);
    const alone = verdict(['n1'], ['n3'], first, later(undefined, { n3: { kind: 'unreachable', reason: 'n3: refused' } }));
    assert.deepEqual(alone.failing, [{ node: 'n1', reasons: ['n3, at the other end of a link, did not answer: n3: refused'] }]);
  });

  it('without babeld only handshakes count (nothing else is sure to cross an idle link)', () => {
    const quiet = makePlan(['n1', 'n2'], { babeld: false });
    const probes = probesFor(quiet);
    const r: GateRound = { health: analyzeMesh(quiet, names(quiet), probes), probes };
    const v = gateVerdict({
      batch: ['n1'],
      links: gatedLinks(['n1'], new Set(), r.health),
      deployFailed: new Map(),
      first: r,
      now: r,
      babeld: false,
    });
    assert.equal(v.passed, true);
  });
});

describe('the rollout in words', () => {
  const base: RolloutReport = { id: 'x', batches: [['n1'], ['n2', 'n3'], ['n4']], gates: [], rolledBack: [] };

  it('a gate that passed, then one that stopped the rollout and its batch rolled back', () => {
    const text = formatRollout({
      ...base,
      gates: [
        { batch: 1, passed: true, seconds: 4.2, links: 3, failing: [] },
        { batch: 2, passed: false, seconds: 30, links: 5, failing: [{ node: 'n3', reasons: ['n3 → n4 (rait50004): no handshake yet'] }] },
      ],
      stopped: { batch: 2, reason: 'the gate of batch 2 failed on n3 (1 of 2; --max-fail 0)' },
      rolledBack: [
        { node: 'n2', by: 'control', ok: true },
        { node: 'n3', by: 'switch', ok: true },
      ],
    });
    assert.deepEqual(text, [
      'gate of batch 1 of 3 (n1): passed in 4.2 s, 3 links checked',
      'gate of batch 2 of 3 (n2, n3): failed in 30 s, 5 links checked\n  n3: n3 → n4 (rait50004): no handshake yet',
      'rollout stopped at batch 2 of 3: the gate of batch 2 failed on n3 (1 of 2; --max-fail 0)',
      'rolled back: n2 by rait-fleet; n3 by its own switch',
      'the mesh is restored: every node this deploy had changed in batch 2 is back on its previous plan (the inventory still holds the change)',
      'not deployed: n4 (later batches)',
    ]);
  });

  it('a node that could not be rolled back is named, and the mesh not called restored', () => {
    const text = formatRollout({
      ...base,
      batches: [['n1', 'n2']],
      stopped: { batch: 1, reason: 'n2 could not be confirmed: timed out' },
      rolledBack: [
        { node: 'n1', by: 'control', ok: true },
        { node: 'n2', by: 'unknown', ok: false, error: 'timed out' },
      ],
    });
    assert.deepEqual(text.slice(1), [
      'rolled back: n1 by rait-fleet',
      'n2: NOT rolled back: timed out',
      'the mesh is NOT fully restored: look at n2 (rait-fleet status)',
    ]);
  });
});
