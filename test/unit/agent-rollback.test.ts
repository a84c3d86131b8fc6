// Magic rollback on the node (rollback.sh), on made-up nodes: the snapshot a deploy keeps before its
// first change, the dead-man switch it arms, confirm, rollback by the control machine and by the
// switch, a deploy taking over an unconfirmed one, and that nothing but its own deploy's switch ever
// restores a snapshot. No root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyReport, ConfirmReport, RollbackReport } from '../../src/agent/report.js';
import { systemdUnits } from '../../src/mesh/units.js';
import { parseReport } from '../../src/agent/validate.js';
import { isAlive } from '../../src/lab/system.js';
import { MadeUpNode, type AgentResult } from './agent-harness.js';
import { n1Plan } from './recorded-node.js';
import { waitFor } from '../e2e/cli-helpers.js';

const before = n1Plan();
const after = n1Plan('  mtu: 1380\n');
const lines = (text: string): string[] => text.split('\n').filter(Boolean);

function deploy(n: MadeUpNode, plan = before, snapshot?: { id: string; switchSeconds?: number }): AgentResult<ApplyReport> {
  const r = n.run<ApplyReport>({ ...plan, snapshot });
  assert.equal(r.report.ok, true, r.report.error ?? r.stderr);
  return r;
}
const confirm = (n: MadeUpNode, id: string) => n.run<ConfirmReport>({ ...before, mode: 'confirm', snapshot: { id } }).report;
const rollback = (n: MadeUpNode, id: string) => n.run<RollbackReport>({ ...before, mode: 'rollback', snapshot: { id } });

/** The pid of the switch process a snapshot records, while it runs. */
function switchPid(n: MadeUpNode, id: string): number | undefined {
  const file = join(n.snapshotDir, id, 'switch');
  if (!existsSync(file)) return undefined;
  const [kind, pid] = readFileSync(file, 'utf8').trim().split(' ');
  return kind === 'process' && isAlive(Number(pid)) ? Number(pid) : undefined;
}
const stored = (n: MadeUpNode, file = 'plan'): string => readFileSync(join(n.configDir, file), 'utf8');
const gone = (pid: number) => waitFor(async () => !isAlive(pid), 5000, 20);

/** A made-up node for one test, removed after it (and after its switch, which a test may leave running). */
async function onNode(setup: ConstructorParameters<typeof MadeUpNode>[0], body: (n: MadeUpNode) => Promise<void> | void): Promise<void> {
  // The facts of a node deployed with `before`: a deploy of it changes nothing, one of `after` the MTU.
  const n = new MadeUpNode({ facts: { here: 'deployed' }, ...setup });
  try {
    await body(n);
  } finally {
    for (const id of existsSync(n.snapshotDir) ? readdirSync(n.snapshotDir) : []) {
      const pid = switchPid(n, id);
      if (pid) process.kill(-pid, 'SIGTERM');
    }
    n.remove();
  }
}

describe('deploy --snapshot: what is kept, and the switch', () => {
  it('keeps the previous plan and files before the first change and arms a switch process; confirm disarms it', () =>
    onNode({}, async (n) => {
      deploy(n);
      const plan = stored(n);
      const conf = stored(n, 'rait.conf');
      const r = deploy(n, after, { id: 'd1', switchSeconds: 60 });
      assert.equal(r.report.snapshot, 'd1');
      assert.equal(r.report.switch, 'process');
      const dir = join(n.snapshotDir, 'd1');
      assert.equal(statSync(n.snapshotDir).mode & 0o777, 0o700);
      assert.equal(readFileSync(join(dir, 'stage', 'plan'), 'utf8'), plan);
      assert.equal(readFileSync(join(dir, 'stage', 'rait.conf'), 'utf8'), conf);
      assert.equal(statSync(join(dir, 'stage', 'rait.conf')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(dir, 'kind'), 'utf8'), 'deploy\n');
      assert.equal(readFileSync(join(dir, 'state'), 'utf8'), 'pending\n');
      assert.notEqual(stored(n), plan, 'the deploy went on');
      const pid = switchPid(n, 'd1');
      assert.ok(pid, 'the switch runs');
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' '), / rollback --snapshot d1 --after 60 -v /);
      assert.deepEqual([confirm(n, 'd1').state], ['confirmed']);
      assert.ok(await gone(pid), 'the switch is gone');
      assert.equal(readFileSync(join(dir, 'state'), 'utf8'), 'kept\n');
      assert.equal(confirm(n, 'd1').state, 'confirmed', 'confirming twice is no error');
      assert.equal(confirm(n, 'other').state, 'absent');
    }));

  it('a deploy that changes nothing keeps nothing and arms nothing', () =>
    onNode({}, (n) => {
      deploy(n);
      const r = deploy(n, before, { id: 'd1', switchSeconds: 60 });
      assert.equal(r.report.snapshot, undefined, r.stderr);
      assert.equal(r.report.switch, undefined);
      assert.ok(!existsSync(join(n.snapshotDir, 'd1')));
      assert.equal(confirm(n, 'd1').state, 'absent');
    }));

  it('a no-op deploy after a confirmed one starts no more processes than one without --snapshot', () =>
    onNode({ spy: ['cksum', 'cat', 'cp', 'mkdir', 'mv', 'rm', 'find', 'sed', 'awk', 'setsid', 'sleep'] }, (n) => {
      // The first deploy writes every file: it keeps a snapshot (to take the node down again).
      assert.equal(deploy(n, before, { id: 'd1', switchSeconds: 60 }).report.snapshot, 'd1');
      assert.equal(confirm(n, 'd1').state, 'confirmed');
      // The calls, but for the name of the stage (mktemp's).
      const calls = (r: AgentResult<ApplyReport>): string[] => lines(r.spied.replace(/tmp\.\w+/g, 'STAGE'));
      const plain = calls(deploy(n));
      // The confirmed snapshot stays (kept) and is looked at, by the shell alone.
      const r = deploy(n, before, { id: 'd2', switchSeconds: 60 });
      assert.equal(r.report.snapshot, undefined);
      assert.deepEqual(calls(r), plain);
      assert.ok(existsSync(join(n.snapshotDir, 'd1')), 'the kept snapshot is not touched');
    }));

  it('--switch 0 keeps the snapshot without a switch', () =>
    onNode({}, (n) => {
      deploy(n);
      const r = deploy(n, after, { id: 'd1', switchSeconds: 0 });
      assert.deepEqual([r.report.snapshot, r.report.switch], ['d1', 'none']);
      assert.ok(!existsSync(join(n.snapshotDir, 'd1', 'switch')));
    }));

  it('where systemd runs, the switch is a transient timer; confirm stops it', () =>
    onNode({ systemd: true }, (n) => {
      const units = systemdUnits(before.mesh);
      n.run({ ...before, files: units });
      const r = n.run<ApplyReport>({ ...after, files: units, snapshot: { id: 'd1', switchSeconds: 45 } });
      assert.equal(r.report.switch, 'systemd');
      const dir = join(n.snapshotDir, 'd1');
      assert.deepEqual(
        lines(r.changes).filter((l) => l.startsWith('systemd-run')),
        [
          `systemd-run --quiet --collect --unit rait-fleet-rollback-d1 --on-active 45 --timer-property AccuracySec=1s sh ${dir}/agent rollback --snapshot d1 --after 0 -v`,
        ],
      );
      assert.equal(readFileSync(join(dir, 'stage', 'rait-fleet.service'), 'utf8'), units['rait-fleet.service']);
      const c = n.run<ConfirmReport>({ ...before, mode: 'confirm', snapshot: { id: 'd1' } });
      assert.equal(c.report.state, 'confirmed');
      assert.deepEqual(lines(c.changes), ['systemctl stop rait-fleet-rollback-d1.timer']);
    }));
});

describe('rollback', () => {
  it('by the control machine: the previous plan and files are applied again and recorded; asking again gives the same report', () =>
    onNode({}, async (n) => {
      deploy(n);
      const plan = stored(n);
      const conf = stored(n, 'rait.conf');
      deploy(n, after, { id: 'd1', switchSeconds: 60 });
      const pid = switchPid(n, 'd1')!;
      const r = rollback(n, 'd1');
      assert.equal(r.report.ok, true, r.report.error ?? r.stderr);
      assert.deepEqual(
        [r.report.by, r.report.restored, r.report.report?.mode, r.report.report?.ok],
        ['control', 'previous', 'deploy', true],
      );
      assert.ok(await gone(pid), 'the switch was disarmed first');
      assert.equal(stored(n), plan, 'the previous plan is the recorded one again');
      assert.equal(stored(n, 'rait.conf'), conf);
      // The facts show the node as `before` made it: the restore has no link to change.
      assert.deepEqual(r.report.report?.links.kept.length, before.plan.links.length);
      assert.ok(!existsSync(join(n.snapshotDir, 'd1')), 'the snapshot is gone');
      assert.equal(statSync(join(n.snapshotDir, 'd1.report')).mode & 0o777, 0o600);
      const again = rollback(n, 'd1');
      assert.deepEqual(again.report, r.report);
      assert.equal(lines(again.changes).length, 0);
      assert.equal(confirm(n, 'd1').state, 'rolled-back');
      assert.deepEqual([rollback(n, 'never').report.by, rollback(n, 'never').report.report], ['none', null]);
    }));

  it("restores the files a deploy of the previous plan had: a dual-stack node's second rait.conf, the pull config", () =>
    onNode({}, (n) => {
      deploy(n);
      // As a deploy with mesh.pull and a second transport had left them (this plan has neither).
      const extra = { 'rait-ip6.conf': readFileSync(join(n.configDir, 'rait.conf'), 'utf8'), pull: 'signer x\n' };
      for (const [name, text] of Object.entries(extra)) writeFileSync(join(n.configDir, name), text, { mode: 0o600 });
      deploy(n, after, { id: 'd1', switchSeconds: 0 });
      for (const name of Object.keys(extra)) assert.ok(!existsSync(join(n.configDir, name)), `${name}: removed by the deploy`);
      assert.equal(rollback(n, 'd1').report.ok, true);
      for (const [name, text] of Object.entries(extra)) assert.equal(stored(n, name), text, `${name}: restored`);
    }));

  it('by the switch, when no confirmation comes in time', () =>
    onNode({}, async (n) => {
      deploy(n);
      const plan = stored(n);
      deploy(n, after, { id: 'd1', switchSeconds: 1 });
      assert.ok(await waitFor(async () => existsSync(join(n.snapshotDir, 'd1.report')), 15_000, 50), 'the switch restored the node');
      assert.equal(stored(n), plan);
      const r = rollback(n, 'd1').report;
      assert.deepEqual([r.ok, r.by, r.restored], [true, 'switch', 'previous']);
      assert.equal(confirm(n, 'd1').state, 'rolled-back', 'too late to confirm');
      assert.match(readFileSync(join(n.dir, 'log', 'rollback.log'), 'utf8'), /restoring the state before deploy d1/);
    }));

  it('a node that had no plan goes down', () =>
    onNode({}, (n) => {
      const first = deploy(n, before, { id: 'd1', switchSeconds: 60 });
      assert.equal(first.report.snapshot, 'd1');
      const r = rollback(n, 'd1').report;
      assert.deepEqual([r.ok, r.restored, r.report?.mode], [true, 'down', 'down']);
      assert.match(stored(n), /^state down$/m, 'nothing brings the mesh back');
    }));

  it('a deploy finding an unconfirmed one takes it over: one switch, and its rollback goes back before both', () =>
    onNode({}, async (n) => {
      deploy(n);
      const plan = stored(n);
      deploy(n, after, { id: 'd1', switchSeconds: 60 });
      const first = switchPid(n, 'd1')!;
      // d2 changes nothing itself, yet takes d1 over: confirming d2 confirms what d1 did.
      const r = deploy(n, after, { id: 'd2', switchSeconds: 60 });
      assert.equal(r.report.snapshot, 'd2');
      assert.match(r.report.notes.join(' '), /deploy d1 was not confirmed here/);
      assert.ok(await gone(first), "d1's switch is disarmed");
      assert.ok(switchPid(n, 'd2'));
      assert.ok(!existsSync(join(n.snapshotDir, 'd1')));
      assert.equal(rollback(n, 'd2').report.restored, 'previous');
      assert.equal(stored(n), plan, 'back to before d1');
    }));

  it('a switch acts only for its own deploy, and only while unconfirmed', () =>
    onNode({}, (n) => {
      deploy(n);
      deploy(n, after, { id: 'd1', switchSeconds: 60 });
      // The switch as it would run if its disarming had failed.
      const agent = join(n.dir, 'old-switch-agent');
      copyFileSync(join(n.snapshotDir, 'd1', 'agent'), agent);
      confirm(n, 'd1');
      const planAfter = stored(n);
      const late = n.sh([agent, 'rollback', '--snapshot', 'd1', '--after', '0']);
      assert.deepEqual([late.status, late.stdout], [0, ''], 'a confirmed deploy is not undone');
      assert.equal(stored(n), planAfter);
      // A later deploy replaces the kept snapshot; d1's switch firing then restores nothing, and the
      // node's own runs (apply at boot or to heal) apply the plan of the last deploy.
      deploy(n, n1Plan('  mtu: 1360\n'), { id: 'd2', switchSeconds: 60 });
      confirm(n, 'd2');
      const stale = n.sh([agent, 'rollback', '--snapshot', 'd1', '--after', '0']);
      assert.deepEqual(JSON.parse(stale.stdout), {
        agent: 1,
        mode: 'rollback',
        ok: true,
        snapshot: 'd1',
        by: 'none',
        restored: 'none',
        report: null,
      });
      assert.match(stored(n), /^mtu 1360$/m);
      const boot = n.resident<ApplyReport>(['apply', '--boot']);
      assert.equal(boot.report.mode, 'apply');
      assert.match(stored(n), /^mtu 1360$/m);
    }));

  it('apply --boot finds a deploy never confirmed (its switch died with the reboot) and restores the state before it', () =>
    onNode({}, (n) => {
      deploy(n);
      const plan = stored(n);
      deploy(n, after, { id: 'd1', switchSeconds: 0 });
      const boot = n.sh([join(n.configDir, 'rait-fleet-agent'), 'apply', '--boot']);
      const r = parseReport(boot.stdout, 'rollback') as RollbackReport;
      assert.deepEqual([r.ok, r.by, r.restored], [true, 'switch', 'previous']);
      assert.equal(stored(n), plan);
    }));

  it('down discards every snapshot and disarms its switch', () =>
    onNode({}, async (n) => {
      deploy(n);
      deploy(n, after, { id: 'd1', switchSeconds: 60 });
      const pid = switchPid(n, 'd1')!;
      const r = n.run<ApplyReport>({ ...after, mode: 'down' });
      assert.equal(r.report.ok, true, r.report.error);
      assert.ok(await gone(pid));
      assert.deepEqual(readdirSync(n.snapshotDir), []);
    }));

  it('confirm and rollback need a deploy id the agent accepts', () =>
    onNode({}, (n) => {
      deploy(n);
      const agent = join(n.configDir, 'rait-fleet-agent');
      for (const bad of ['../d1', '-d1', 'd 1', '']) {
        const r = n.sh([agent, 'rollback', '--snapshot', bad]);
        assert.deepEqual([r.status, r.stdout], [2, ''], bad);
        assert.match(r.stderr, /usage: /);
      }
      const none = parseReport(n.sh([agent, 'confirm']).stdout, 'confirm') as ConfirmReport;
      assert.deepEqual([none.ok, none.error], [false, 'confirm needs --snapshot ID']);
    }));
});
