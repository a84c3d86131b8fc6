// `rait-fleet status` against a real 4-node lab (issue 5): healthy, a deleted interface, config drift
// and an sshd that stops answering, each checked in the text output, in --json and against the nodes.
// Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labDown, labExec, type Lab } from '../../src/lab/index.js';
import { loadInventory } from '../../src/inventory/load.js';
import { isAlive } from '../../src/lab/system.js';
import { readState } from '../../src/state/store.js';
import type { FleetState } from '../../src/state/types.js';
import type { StatusDocument } from '../../src/status/format.js';
import type { LinkHealth } from '../../src/status/types.js';
import { matrixOf } from '../fixtures/status-matrix.js';
import { escapeRegExp } from '../fixtures/cli.js';
import { runCli, waitFor, type CliResult } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];
const FULL_MESH: Record<string, string[]> = {
  n1: ['·', '✓', '✓', '✓'],
  n2: ['✓', '·', '✓', '✓'],
  n3: ['✓', '✓', '·', '✓'],
  n4: ['✓', '✓', '✓', '·'],
};
const LEGEND = /^✓ up {2}! up here, broken at the other end {2}~ stale {2}✗ missing {2}· not expected {2}\? unknown$/m;

/** What `wg show` says on a node, one line per interface: "<ifname> <peer key> <listen port> <endpoint>". */
async function wgShow(lab: Lab, node: string): Promise<string[]> {
  const wg = async (...args: string[]): Promise<string> => {
    const r = await labExec(lab, node, ['wg', 'show', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const names = (await wg('interfaces')).split(/\s+/).filter(Boolean);
  // Per field, never `dump`: its interface line holds the private key.
  return Promise.all(
    names.map(async (ifname) => {
      const [peer, port, endpoints] = await Promise.all([wg(ifname, 'peers'), wg(ifname, 'listen-port'), wg(ifname, 'endpoints')]);
      return `${ifname} ${peer} ${port} ${endpoints.split('\t')[1]}`;
    }),
  );
}

describe('status of a 4-node lab', () => {
  const suite = labSuite('status', 4);
  const { inventory } = suite;
  let lab: Lab;
  let state: FleetState;
  /** Every status output of this suite (stdout and stderr), checked for private keys at the end. */
  const outputs: { args: string[]; text: string }[] = [];

  const status = async (...extra: string[]): Promise<CliResult> => {
    const r = await runCli(['status', inventory, ...extra]);
    outputs.push({ args: extra, text: r.stdout + r.stderr });
    return r;
  };
  const statusJson = async (): Promise<{ code: number; doc: StatusDocument }> => {
    const r = await status('--json');
    assert.match(r.stdout, /^\{/, `status --json exited ${r.code} without a document: ${r.stderr}`);
    return { code: r.code, doc: JSON.parse(r.stdout) as StatusDocument };
  };
  const link = (doc: StatusDocument, from: string, to: string): LinkHealth => {
    const l = doc.links.find((x) => x.from === from && x.to === to);
    assert.ok(l, `no link ${from} -> ${to}`);
    return l;
  };
  const ifnameTo = (node: string): string => `rait${state.nodes[node]!.sendPort}`;
  const deploy = async (): Promise<void> => {
    const r = await runCli(['deploy', inventory]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  };
  /** babeld needs a few hellos after a deploy before every neighbour counts. */
  const untilHealthy = async (): Promise<StatusDocument> => {
    let last: StatusDocument | undefined;
    const ok = await waitFor(
      async () => {
        const { code, doc } = await statusJson();
        last = doc;
        return code === 0;
      },
      60_000,
      2000,
    );
    assert.ok(ok, `status stayed degraded: ${JSON.stringify(last?.problems)}`);
    return last!;
  };

  before(async () => {
    lab = suite.lab;
    await deploy();
    state = readState(suite.statePath);
    await untilHealthy();
  });

  it('healthy: exit 0, all 12 directed links up in the matrix, the legend, a row per node', async () => {
    const r = await status();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(matrixOf(r.stdout, NODES), FULL_MESH);
    assert.match(r.stdout, LEGEND);
    // The lab has no systemd: nothing brings a node's mesh back at boot but the agent run by hand.
    for (const n of NODES) assert.match(r.stdout, new RegExp(`^${n}\\s+ok\\s+3/3\\s+3\\s+\\d+\\s+no\\s+none$`, 'm'));
    assert.match(r.stdout, /^healthy: 12 links up, no drift$/m);
  });

  it('--json parses and agrees with wg show on every node: peer keys, listen ports, endpoints', async () => {
    const { code, doc } = await statusJson();
    assert.equal(code, 0);
    assert.equal(doc.healthy, true);
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.links.filter((l) => l.status === 'up').length, 12);
    assert.equal(doc.links.filter((l) => l.status === 'not-expected').length, 4);
    for (const n of lab.nodes) {
      const fromWg = (await wgShow(lab, n.name)).sort();
      const fromStatus = doc.facts[n.name]!.links.map((l) => `${l.name} ${l.publicKey} ${l.listenPort} ${l.endpoint}`).sort();
      assert.deepEqual(fromStatus, fromWg, n.name);
      // And that is the plan: towards each peer, its key and SendPort on the interface named by that port.
      const planned = lab.nodes
        .filter((p) => p !== n)
        .map((p) => `${ifnameTo(p.name)} ${state.nodes[p.name]!.publicKey} ${state.nodes[p.name]!.sendPort}`);
      assert.deepEqual(
        fromWg.map((l) => l.split(' ').slice(0, 3).join(' ')),
        planned.sort(),
        n.name,
      );
      for (const p of lab.nodes.filter((x) => x !== n)) assert.equal(link(doc, n.name, p.name).interface, ifnameTo(p.name));
    }
  });

  it('an interface deleted on one node: exit 1, exactly that pair one-sided/missing, deploy named as the fix', async () => {
    const gone = ifnameTo('n2');
    const del = await labExec(lab, 'n1', ['ip', 'link', 'del', gone]);
    assert.equal(del.code, 0, del.stderr);
    const problem = `n1 → n2: interface ${gone} missing on n1 (one-sided: n2's end is up) — run deploy`;

    /** Checks one round and returns the status of n2's intact end. */
    const onlyThatPair = async (): Promise<string> => {
      const { code, doc } = await statusJson();
      assert.equal(code, 1);
      assert.equal(doc.healthy, false);
      const there = link(doc, 'n1', 'n2');
      assert.deepEqual([there.status, there.fault, there.oneSided], ['missing', 'missing', true]);
      const back = link(doc, 'n2', 'n1');
      assert.ok(back.status === 'up' || back.status === 'stale', JSON.stringify(back));
      assert.equal(back.oneSided, true);
      const others = doc.links.filter((l) => l.from !== l.to && !['n1\0n2', 'n2\0n1'].includes(`${l.from}\0${l.to}`));
      assert.deepEqual(
        others.filter((l) => l.status !== 'up' || l.oneSided),
        [],
        'every other pair still up',
      );
      assert.deepEqual(doc.problems, [problem]);

      const text = await status();
      assert.equal(text.code, 1);
      assert.deepEqual(matrixOf(text.stdout, NODES), { ...FULL_MESH, n1: ['·', '✗', '✓', '✓'], n2: ['!', '·', '✓', '✓'] });
      assert.match(text.stdout, new RegExp(`^problems:\\n {2}${escapeRegExp(problem)}$`, 'm'));
      return back.status;
    };

    // At once n2's end is still up. babeld there keeps the silent neighbour at infinite cost once its
    // IHUs expire (about 50 s with 4 s hellos): then that end is stale, and it is still the same one
    // broken end, not a second problem.
    assert.equal(await onlyThatPair(), 'up');
    const noticed = await waitFor(async () => (await onlyThatPair()) === 'stale', 120_000, 5000);
    assert.ok(noticed, "n2's babeld never dropped its neighbour on the deleted tunnel");
  });

  it('a re-deploy restores the interface and status is healthy again', async () => {
    await deploy();
    const doc = await untilHealthy();
    assert.equal(doc.links.filter((l) => l.status === 'up').length, 12);
  });

  it('a hand-edited peers.conf shows drift on that node only; a re-deploy clears it', async () => {
    const edit = await labExec(lab, 'n3', ['sh', '-c', 'echo "# edited by hand" >> /etc/rait/peers.conf']);
    assert.equal(edit.code, 0, edit.stderr);

    const { code, doc } = await statusJson();
    assert.equal(code, 1);
    assert.deepEqual(
      doc.nodes.map((n) => [n.node, n.drift]),
      [
        ['n1', false],
        ['n2', false],
        ['n3', true],
        ['n4', false],
      ],
    );
    assert.deepEqual(doc.nodes[2]!.driftedFiles, [{ name: 'peers.conf', change: 'differs' }]);
    assert.equal(doc.links.filter((l) => l.status === 'up').length, 12);
    assert.deepEqual(doc.problems, ['n3: config drift — deployed files differ from the plan (peers.conf differs), run deploy']);
    const text = await status();
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^n3\s+ok\s+3\/3\s+3\s+\d+\s+yes\s+none$/m);
    assert.match(text.stdout, /^n2\s+ok\s+3\/3\s+3\s+\d+\s+no\s+none$/m);

    await deploy();
    const cleared = await statusJson();
    assert.equal(cleared.code, 0, JSON.stringify(cleared.doc.problems));
    assert.ok(cleared.doc.nodes.every((n) => !n.drift));
  });

  it("one node's sshd hung, then gone: that node unreachable within connect_timeout, the rest still reported", async () => {
    const n4 = lab.nodes[3]!;
    const pid = n4.sshdPid;
    assert.ok(pid, 'the lab recorded the sshd pid of n4');
    // That pid is n4's sshd: its config file is the lab's (labExec checks the same before entering).
    assert.equal((await labExec(lab, n4.name, ['true'])).code, 0);
    const connectTimeout = loadInventory(inventory).nodes.find((n) => n.name === n4.name)!.ssh.connectTimeout;
    const bound = 3 * connectTimeout * 1000;

    const check = (doc: StatusDocument, reason: RegExp): void => {
      const row = doc.nodes.find((n) => n.node === n4.name)!;
      assert.equal(row.reachable, false);
      assert.match(row.error ?? '', reason);
      for (const n of doc.nodes.filter((x) => x.node !== n4.name)) {
        assert.deepEqual([n.reachable, n.linksUp, n.drift], [true, 3, false], n.node);
      }
      // Its tunnels still work: the others see their links to it up; its own row is unknown.
      assert.deepEqual(
        doc.links.filter((l) => l.to === n4.name && l.from !== n4.name).map((l) => l.status),
        ['up', 'up', 'up'],
      );
      assert.deepEqual(
        doc.links.filter((l) => l.from === n4.name && l.to !== n4.name).map((l) => l.status),
        ['unknown', 'unknown', 'unknown'],
      );
      assert.equal(doc.problems[0], `${n4.name}: unreachable — ${row.error}`);
      assert.equal(doc.problems.length, 1, JSON.stringify(doc.problems));
    };

    // Stopped (SIGSTOP): the kernel still accepts the TCP connection, no SSH banner ever comes.
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const { code, doc } = await statusJson();
      const took = Date.now() - started;
      assert.equal(code, 1);
      assert.ok(took < bound, `status hung ${took} ms on a stopped sshd (connect_timeout ${connectTimeout} s)`);
      check(doc, /connect_timeout/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    // Gone: connection refused.
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => !isAlive(pid), 10_000, 100);
    const started = Date.now();
    const r = await status();
    const took = Date.now() - started;
    assert.equal(r.code, 1);
    assert.ok(took < bound, `status took ${took} ms with n4's sshd gone`);
    assert.deepEqual(matrixOf(r.stdout, NODES), { ...FULL_MESH, n4: ['?', '?', '?', '·'] });
    assert.match(r.stdout, /^n4\s+unreachable\s+-\/3\s+-\s+-\s+-\s+-$/m);
    check((await statusJson()).doc, /refused/);
  });

  it('no private key appears in any status output, text or --json', () => {
    const keys = Object.values(state.nodes).map((k) => k.privateKey);
    assert.equal(keys.length, 4);
    assert.ok(outputs.some((o) => o.args.includes('--json')) && outputs.some((o) => !o.args.includes('--json')));
    for (const o of outputs) {
      for (const key of keys) assert.ok(!o.text.includes(key), `a private key in the output of status ${o.args.join(' ')}`);
      assert.doesNotMatch(o.text, /PrivateKey|privateKey/);
    }
  });

  it('lab down still removes every namespace, with one sshd gone', async () => {
    await labDown(lab.name, lab.dir);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith(`rfl-${lab.name}-`));
    assert.deepEqual(left, []);
  });
});
