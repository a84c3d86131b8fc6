// Issue 6 on a real 4-node lab: what deploy does when parts of the fleet misbehave (sshd stopped, packets
// dropped, the agent failing half-way, the control process killed), --retry-failed, changed host keys,
// and that no private key leaks into any command line, output or log. Runs as root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labExec, type Lab, type LabNode } from '../../src/lab/index.js';
import { writeLab } from '../../src/lab/store.js';
import { isAlive, run } from '../../src/lab/system.js';
import { readState } from '../../src/state/store.js';
import type { FleetState } from '../../src/state/types.js';
import { lastRunPath, readLastRun } from '../../src/run/last-run.js';
import { CLI, editInventory, outcomes, runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { configDir, configDirProblems, configuredMtu, expectedLinkFacts, linkFacts } from './mesh-facts.js';

const setMtu = (inventory: string, mtu: number): void => editInventory(inventory, (d) => d.setIn(['mesh', 'mtu'], mtu));

/** Stops the node's sshd (its recorded PID only); the node's daemons keep running. */
async function stopSshd(node: LabNode): Promise<void> {
  const pid = node.sshdPid!;
  process.kill(pid, 'SIGTERM');
  assert.ok(await waitFor(async () => !isAlive(pid), 5000, 50), `sshd ${pid} did not stop`);
}

/** Starts a new sshd in the node's namespaces, entered through its babeld, and records its PID in the lab. */
async function restartSshd(lab: Lab, node: LabNode): Promise<void> {
  const babeld = Number(readFileSync(join(node.dir, 'run', 'rait-fleet', 'babeld.pid'), 'utf8'));
  const old = node.sshdPid;
  const r = await run('nsenter', ['-t', String(babeld), '-n', '-m', '--', '/usr/sbin/sshd', '-f', '/mnt/sshd_config']);
  assert.equal(r.code, 0, r.stderr);
  const pid = await waitFor(
    async () => {
      const file = join(node.dir, 'run', 'sshd.pid');
      const p = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
      return p && p !== old && isAlive(p) ? p : 0;
    },
    5000,
    50,
  );
  assert.ok(pid, 'restarted sshd wrote no pid file');
  node.sshdPid = pid;
  writeLab(lab);
}

const nft = (node: LabNode, args: string[]) => run('ip', ['netns', 'exec', node.namespace, 'nft', ...args]);

/** Every packet to the node is dropped: connections to it time out. */
async function dropAll(node: LabNode): Promise<void> {
  for (const args of [
    ['add', 'table', 'inet', 'rfdrop'],
    ['add', 'chain', 'inet', 'rfdrop', 'input', '{ type filter hook input priority -10 ; policy drop ; }'],
  ]) {
    const r = await nft(node, args);
    assert.equal(r.code, 0, r.stderr);
  }
}
async function undrop(node: LabNode): Promise<void> {
  const r = await nft(node, ['delete', 'table', 'inet', 'rfdrop']);
  assert.equal(r.code, 0, r.stderr);
}

/**
 * `script` runs instead of `wg` on this node only: bind-mounted over it in the node's private mount
 * namespace (the node's /mnt is its lab dir); the real wg stays reachable as /mnt/real-wg.
 */
async function replaceWg(lab: Lab, node: LabNode, script: string): Promise<void> {
  writeFileSync(join(node.dir, 'fake-wg'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(node.dir, 'fake-wg'), 0o755);
  writeFileSync(join(node.dir, 'real-wg'), '');
  for (const [from, to] of [
    ['/usr/bin/wg', '/mnt/real-wg'],
    ['/mnt/fake-wg', '/usr/bin/wg'],
  ]) {
    const r = await labExec(lab, node.name, ['mount', '--bind', from!, to!]);
    assert.equal(r.code, 0, r.stderr);
  }
  assertHostWgIntact();
}
async function restoreWg(lab: Lab, node: LabNode): Promise<void> {
  for (const target of ['/usr/bin/wg', '/mnt/real-wg']) {
    const r = await labExec(lab, node.name, ['umount', target]);
    assert.equal(r.code, 0, r.stderr);
  }
}
function assertHostWgIntact(): void {
  assert.equal(readFileSync('/usr/bin/wg').subarray(0, 4).toString('latin1'), '\x7fELF', 'the bind mount leaked out of the node');
}

/** Agents (`sh -s -- deploy`) running in the network namespaces of these lab nodes. */
function agentsRunning(nodes: LabNode[]): number[] {
  const nets = new Set(nodes.map((n) => `net:[${statSync(`/run/netns/${n.namespace}`).ino}]`));
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The payload as sh reads it, or the agent it hands over to (sh <stage>/rait-fleet-agent deploy …).
      if (!/^sh\0(-s\0--\0|[^\0]*\/rait-fleet-agent\0)deploy\0/.test(readFileSync(`/proc/${entry}/cmdline`, 'latin1'))) continue;
      if (nets.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Staging dirs an agent left in a node's private /tmp (they hold the private key). */
const leftoverStages = (node: LabNode): string[] => readdirSync(join(node.dir, 'tmp')).filter((n) => n.startsWith('tmp.'));

/** Spawns a --forks 1 deploy and sends `signal` once `node`'s agent runs. */
function deployKilledAt(inventory: string, node: LabNode, signal: NodeJS.Signals): Promise<{ stderr: string; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'deploy', inventory, '--forks', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!sent && stderr.includes(`[${node.name}] applying plan`)) {
        sent = true;
        const poll = setInterval(() => {
          if (agentsRunning([node]).length === 0) return;
          clearInterval(poll);
          child.kill(signal);
        }, 10);
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (_code, sig) => resolve({ stderr, signal: sig }));
  });
}

describe('deploy when parts of a 4-node lab fail', () => {
  const suite = labSuite('faults', 4);
  const { work, inventory, statePath } = suite;
  let lab: Lab;
  let state: FleetState;
  const node = (i: number): LabNode => lab.nodes[i - 1]!;
  const privateKeys = (): string[] => Object.values(state.nodes).map((k) => k.privateKey);

  const assertRight = async (nodes: LabNode[], mtu: number): Promise<void> => {
    for (const n of nodes) assert.deepEqual(await linkFacts(lab, n.name), expectedLinkFacts(lab, state, n.name, mtu), `links of ${n.name}`);
  };
  /** No temp or half-written files anywhere, no staged secrets left, and the state file as it was. */
  const assertNothingHalfDone = (): void => {
    assert.deepEqual(lab.nodes.flatMap(configDirProblems), []);
    assert.deepEqual(lab.nodes.flatMap(leftoverStages), [], 'agent staging dirs left behind');
    assert.deepEqual(readState(statePath), state, 'state file changed');
    assert.equal(statSync(statePath).mode & 0o777, 0o600);
  };
  const lastResults = (): Record<string, string> =>
    Object.fromEntries(Object.entries(readLastRun(lastRunPath(statePath))!.nodes).map(([n, e]) => [n, e.result]));

  before(async () => {
    lab = suite.lab;
    editInventory(inventory, (d) => d.setIn(['ssh', 'connect_timeout'], 2));
    const keygen = await runCli(['keygen', inventory]);
    assert.equal(keygen.code, 0, keygen.stderr);
    state = readState(statePath);
  });
  after(() => assertHostWgIntact());

  it('leaks no private key into any command line, output, log or lab file; secret files are 0600', async () => {
    const keys = privateKeys();
    const cmdlines = new Set<string>();
    const sample = (): void => {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          cmdlines.add(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
        } catch {
          // exited meanwhile
        }
      }
    };
    const sampler = setInterval(sample, 20);
    const outputs: string[] = [];
    try {
      const runs = [
        ['deploy', '--verbose'],
        ['deploy'],
        ['deploy', '--json'],
        ['deploy', '--json', '--verbose'],
        ['status', '--json'],
        ['status', '--verbose'],
      ];
      for (const n of lab.nodes) runs.push(['render', '--node', n.name]);
      for (const args of runs) {
        const r = await runCli([args[0]!, inventory, ...args.slice(1)]);
        if (args[0] !== 'status') assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        outputs.push(r.stdout, r.stderr);
      }
    } finally {
      clearInterval(sampler);
    }
    assert.ok(cmdlines.size > 50, `sampled only ${cmdlines.size} command lines`);
    assert.ok(
      [...cmdlines].some((c) => c.startsWith('sh\0-s\0--\0deploy')),
      'the sampler never saw an agent run',
    );
    assert.ok(outputs.join('').includes('[#] wg set'), 'verbose output shows the agent commands');
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const st = lstatSync(path);
        if (st.isDirectory()) walk(path);
        else if (st.isFile() && path !== statePath && !/\/etc\/upper\/rait\/rait\.conf(\.prev)?$/.test(path)) files.push(path);
      }
    };
    walk(work);
    assert.ok(
      files.some((f) => f.includes('/var-log/')),
      'babeld logs are among the files read',
    );
    const texts = [
      ...[...cmdlines].map((c) => ['cmdline', c]),
      ...outputs.map((o) => ['output', o]),
      ...files.map((f) => [f, readFileSync(f, 'latin1')]),
    ];
    const leaks = texts.filter(([, text]) => keys.some((k) => text!.includes(k))).map(([where]) => where);
    assert.deepEqual(leaks, []);
    // The private keys are where they belong, and only there.
    for (const n of lab.nodes) {
      const conf = join(configDir(n), 'rait.conf');
      assert.ok(readFileSync(conf, 'utf8').includes(state.nodes[n.name]!.privateKey));
      assert.equal(statSync(conf).mode & 0o777, 0o600, conf);
      assert.equal(statSync(configDir(n)).mode & 0o002, 0, `${configDir(n)} world-writable`);
    }
    assert.equal(statSync(statePath).mode & 0o777, 0o600);
    assert.equal(statSync(lastRunPath(statePath)).mode & 0o777, 0o600);
    await assertRight(lab.nodes, 1400);
  });

  it('sshd stopped, packets dropped, wg failing half-way: the others finish, failures are named, nothing half-written', async (t) => {
    const [n1, n2, n3, n4] = [node(1), node(2), node(3), node(4)];
    setMtu(inventory, 1380);
    await stopSshd(n2);
    // Later tests need n2 answering, also when an assertion here fails before its restart.
    t.after(async () => {
      if (!isAlive(n2.sshdPid!)) await restartSshd(lab, n2);
    });
    await dropAll(n3);
    await replaceWg(lab, n4, 'echo "wg: simulated failure" >&2; exit 1');
    let r;
    try {
      r = await runCli(['deploy', inventory, '--json']);
      const text = await runCli(['deploy', inventory, '--limit', 'n2,n3']);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^n2: unreachable: .*refused/m);
      assert.match(text.stdout, /^n3: unreachable: .*tim(ed|e)/m);
    } finally {
      await undrop(n3);
      await restoreWg(lab, n4);
    }
    assert.equal(r.code, 1, r.stderr);
    const o = outcomes(r.stdout);
    assert.equal(o.get('n1')!.result, 'changed');
    assert.equal(o.get('n2')!.result, 'unreachable');
    assert.match(o.get('n2')!.error!, /refused/);
    assert.equal(o.get('n3')!.result, 'unreachable');
    assert.match(o.get('n3')!.error!, /tim(ed|e)/);
    assert.equal(o.get('n4')!.result, 'failed');
    assert.match(o.get('n4')!.error!, /wg/);
    await assertRight([n1], 1380);
    // n4 got its files (the first step) and then failed on its links; the previous versions are kept.
    assert.equal(configuredMtu(n4), 1380);
    assert.equal(configuredMtu(n4, 'rait.conf.prev'), 1400);
    assert.equal(configuredMtu(n2), 1400);
    assert.equal(configuredMtu(n3), 1400);
    assertNothingHalfDone();
    assert.deepEqual(lastResults(), { n1: 'changed', n2: 'unreachable', n3: 'unreachable', n4: 'failed' });

    // --retry-failed with --limit: the intersection; --check records nothing.
    const check = await runCli(['deploy', inventory, '--retry-failed', '--limit', 'n1,n2', '--check', '--json']);
    assert.deepEqual([...outcomes(check.stdout).keys()], ['n2']);

    await restartSshd(lab, n2);
    const retry = await runCli(['deploy', inventory, '--retry-failed', '--json']);
    assert.equal(retry.code, 0, retry.stderr + retry.stdout);
    assert.deepEqual([...outcomes(retry.stdout).keys()], ['n2', 'n3', 'n4']);
    await assertRight(lab.nodes, 1380);
    assertNothingHalfDone();
    const none = await runCli(['deploy', inventory, '--retry-failed']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /nothing to retry/);
    const again = await runCli(['deploy', inventory, '--json']);
    assert.equal(again.code, 0, again.stderr);
    for (const out of outcomes(again.stdout).values()) assert.equal(out.result, 'unchanged', out.node);
  });

  for (const [signal, mtu] of [
    ['SIGINT', 1360],
    ['SIGKILL', 1340],
  ] as const) {
    it(`the control process killed with ${signal} mid-deploy: nothing half-written, --retry-failed converges`, async () => {
      setMtu(inventory, mtu);
      // A slow wg on n2 keeps its agent busy when the signal lands.
      await replaceWg(lab, node(2), 'sleep 2; exec /mnt/real-wg "$@"');
      let killed;
      try {
        killed = await deployKilledAt(inventory, node(2), signal);
        assert.ok(agentsRunning([node(2)]).length > 0, 'the agent on n2 is still at work');
        // Without its control process the agent runs on to the end; wait for it before looking.
        assert.deepEqual(await waitFor(async () => (agentsRunning(lab.nodes).length ? undefined : []), 60_000, 100), []);
      } finally {
        await restoreWg(lab, node(2));
      }
      assert.equal(killed.signal, signal, killed.stderr);
      assert.match(killed.stderr, /\[n1\] done/);
      await assertRight([node(1), node(2)], mtu);
      assert.notEqual(configuredMtu(node(4)), mtu, 'n4 was never reached');
      assertNothingHalfDone();
      // The run never recorded its end: every node it set out to do counts as interrupted.
      assert.deepEqual(lastResults(), { n1: 'interrupted', n2: 'interrupted', n3: 'interrupted', n4: 'interrupted' });
      const retry = await runCli(['deploy', inventory, '--retry-failed', '--json']);
      assert.equal(retry.code, 0, retry.stderr + retry.stdout);
      assert.equal(outcomes(retry.stdout).get('n4')!.result, 'changed');
      await assertRight(lab.nodes, mtu);
      assertNothingHalfDone();
    });
  }

  for (const policy of ['strict', 'accept-new'] as const) {
    it(`a changed host key is refused under ${policy} with the fingerprint shown; nothing is pushed there`, async () => {
      const n1 = node(1);
      const known = readFileSync(lab.knownHosts, 'utf8');
      const fake = join(work, `fake-host-key-${policy}`);
      assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', fake])).code, 0);
      const fakeKey = readFileSync(`${fake}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
      const real = await run('ssh-keygen', ['-l', '-f', join(n1.dir, 'ssh_host_ed25519_key.pub')]);
      const fingerprint = real.stdout.split(' ')[1]!;
      assert.match(fingerprint, /^SHA256:/);
      const mtuBefore = configuredMtu(n1)!;
      const linksBefore = await linkFacts(lab, n1.name);
      const confBefore = readFileSync(join(configDir(n1), 'rait.conf'), 'utf8');
      const wrong = known.replace(new RegExp(`^${n1.address.replaceAll('.', '\\.')} .*$`, 'm'), `${n1.address} ${fakeKey}`);
      assert.notEqual(wrong, known);
      try {
        writeFileSync(lab.knownHosts, wrong);
        editInventory(inventory, (d) => d.setIn(['ssh', 'host_key_checking'], policy));
        setMtu(inventory, mtuBefore - 8);
        const r = await runCli(['deploy', inventory, '--json']);
        assert.equal(r.code, 1, r.stderr);
        const o = outcomes(r.stdout);
        assert.ok(!['changed', 'unchanged'].includes(o.get('n1')!.result));
        assert.match(o.get('n1')!.error!, /HOST KEY CHANGED/);
        assert.ok(o.get('n1')!.error!.includes(fingerprint), `fingerprint ${fingerprint} in: ${o.get('n1')!.error}`);
        for (const n of lab.nodes.slice(1)) assert.equal(o.get(n.name)!.result, 'changed', n.name);
        assert.equal(readFileSync(join(configDir(n1), 'rait.conf'), 'utf8'), confBefore);
        assert.deepEqual(await linkFacts(lab, n1.name), linksBefore);
        assert.equal(readFileSync(lab.knownHosts, 'utf8'), wrong, 'known_hosts left as it was');
      } finally {
        writeFileSync(lab.knownHosts, known);
        editInventory(inventory, (d) => d.setIn(['ssh', 'host_key_checking'], 'strict'));
      }
      const retry = await runCli(['deploy', inventory, '--retry-failed', '--json']);
      assert.equal(retry.code, 0, retry.stderr + retry.stdout);
      assert.deepEqual([...outcomes(retry.stdout).keys()], ['n1']);
      await assertRight(lab.nodes, mtuBefore - 8);
    });
  }
});
