// The mesh outlives reboots and crashes without the control machine (issue 11), on a real lab:
// the agent a deploy leaves on each node brings a "rebooted" node back and heals a crashed
// wireguard-go, run inside the node only. The lab has no systemd: the units are tested by
// systemd-analyze (test/unit/units.test.ts) and on made-up nodes (agent-persist.test.ts). Root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labExec, type Lab } from '../../src/lab/index.js';
import type { ApplyReport } from '../../src/agent/report.js';
import { parseReport } from '../../src/agent/validate.js';
import { readState } from '../../src/state/store.js';
import type { StatusDocument } from '../../src/status/format.js';
import { outcomes, runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { managedLinks } from './mesh-facts.js';

/**
 * Kills the node's own processes whose command line matches the sh `case` pattern (the lab's nodes
 * share one /proc: only those in the node's network namespace), and waits until they are gone.
 */
const KILL = (pattern: string): string =>
  'me=$(readlink /proc/self/ns/net); pids=; for d in /proc/[0-9]*; do ' +
  '[ "$(readlink "$d/ns/net" 2>/dev/null)" = "$me" ] || continue; ' +
  `case "$(tr '\\0' ' ' <"$d/cmdline" 2>/dev/null)" in ${pattern}) pids="$pids \${d#/proc/}" ;; esac; done; ` +
  '[ -n "$pids" ] || exit 3; kill $pids; for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done';

describe('a node alone brings its mesh back', () => {
  const suite = labSuite('boot', 3);
  const { inventory } = suite;
  let lab: Lab;
  const sh = async (node: string, script: string): Promise<string> => {
    const r = await labExec(lab, node, ['sh', '-c', script]);
    assert.equal(r.code, 0, `${node}: ${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** `rait-fleet-agent apply` inside the node, with the control machine idle. */
  const apply = async (node: string, kind: '--boot' | '--heal'): Promise<{ code: number | null; report: ApplyReport }> => {
    const r = await labExec(lab, node, ['/etc/rait/rait-fleet-agent', 'apply', kind]);
    return { code: r.code, report: parseReport(r.stdout, 'apply') as ApplyReport };
  };
  const status = async (): Promise<StatusDocument> => JSON.parse((await runCli(['status', inventory, '--json'])).stdout) as StatusDocument;
  const healthy = async (): Promise<StatusDocument> => {
    let last: StatusDocument | undefined;
    const ok = await waitFor(async () => ((last = await status()), last.healthy), 60_000, 2000);
    assert.ok(ok, `status stayed degraded: ${JSON.stringify(last?.problems)}`);
    return last!;
  };
  const loopbacksAnswer = async (from: string): Promise<boolean> => {
    for (const to of lab.nodes) {
      if (to.name === from) continue;
      if ((await labExec(lab, from, ['ping', '-c', '1', '-W', '1', to.loopback.split('/')[0]!])).code !== 0) return false;
    }
    return true;
  };

  before(async () => {
    lab = suite.lab;
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr);
    for (const o of outcomes(r.stdout).values()) {
      assert.equal(o.persistence, 'none', o.node);
      assert.match(o.notes![0]!, /no systemd here.*\/etc\/rait\/rait-fleet-agent apply --boot/);
    }
    await healthy();
  });

  it('a rebooted node (no links, no daemons, an empty /run) comes back by the agent alone, and routes', async () => {
    await sh('n2', KILL("'babeld '*"));
    await sh('n2', KILL("'wireguard-go '*"));
    await sh('n2', 'rm -rf /run/rait-fleet /run/babeld.ctl /run/wireguard');
    assert.equal((await managedLinks(lab, 'n2')).size, 0, 'a rebooted node has no links');
    const started = Date.now();
    const { code, report } = await apply('n2', '--boot');
    console.log(`# apply --boot on n2 took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.links.added.length, 2);
    assert.equal(report.babeld, 'started');
    assert.ok(await waitFor(() => loopbacksAnswer('n2'), 60_000, 2000), 'n2 does not reach every loopback again');
    const doc = await healthy();
    const n2 = doc.nodes.find((n) => n.node === 'n2')!;
    assert.equal(n2.persistence!.lastKind, 'boot');
    assert.equal(n2.persistence!.healsChanged, 0, 'a boot is no heal');
  });

  it('a heal repairs a crashed wireguard-go (only its link) and leaves healthy links and babeld alone', async () => {
    const toN1 = `rait${readState(suite.statePath).nodes.n1!.sendPort}`;
    const before = await managedLinks(lab, 'n3');
    const babeld = await sh('n3', 'cat /run/rait-fleet/babeld.pid');
    // The wireguard-go serving the link to n1: its link goes with it.
    await sh('n3', `${KILL(`'wireguard-go ${toN1} '`)}; while ip link show ${toN1} >/dev/null 2>&1; do sleep 0.1; done`);
    const { code, report } = await apply('n3', '--heal');
    assert.equal(code, 0, JSON.stringify(report));
    assert.deepEqual(report.links.added, [toN1]);
    assert.equal(report.links.kept.length, 1);
    const after = await managedLinks(lab, 'n3');
    for (const [name, link] of before) if (name !== toN1) assert.equal(after.get(name)!.index, link.index, `${name} was recreated`);
    assert.equal(await sh('n3', 'cat /run/rait-fleet/babeld.pid'), babeld, 'babeld was restarted');
    const doc = await healthy();
    assert.equal(doc.nodes.find((n) => n.node === 'n3')!.persistence!.healsChanged, 1);
  });

  it('a link that keeps dying is a problem status reports', async () => {
    const toN2 = `rait${readState(suite.statePath).nodes.n2!.sendPort}`;
    await sh('n3', `${KILL(`'wireguard-go ${toN2} '`)}; while ip link show ${toN2} >/dev/null 2>&1; do sleep 0.1; done`);
    assert.equal((await apply('n3', '--heal')).code, 0);
    const doc = await status();
    assert.ok(
      doc.problems.some((p) => p.startsWith('n3: healed itself 2 times in the last 24 h')),
      JSON.stringify(doc.problems),
    );
  });

  it('after down, the agent on the node brings nothing back', async () => {
    const r = await runCli(['down', inventory]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { code, report } = await apply('n1', '--boot');
    assert.equal(code, 0, JSON.stringify(report));
    assert.deepEqual([report.links.added, report.babeld], [[], 'not-running']);
    assert.equal((await managedLinks(lab, 'n1')).size, 0);
  });
});
