/**
 * The real agent on a made-up node with nothing on it (agent-harness.ts): what it creates, and its
 * failure paths. Covers what this machine cannot run for real (VRF). Decisions on recorded facts of
 * real nodes: agent-facts.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyReport } from '../../src/agent/report.js';
import { sampleMesh, type MeshOverrides } from '../fixtures/mesh-settings.js';
import { escapeRegExp } from '../fixtures/cli.js';
import { PRIVATE_KEY } from './agent-fixture.js';
import { runAgent as runOn, type AgentRun } from './agent-harness.js';

/** On a node with nothing on it yet; `log` is every changing command. */
const runAgent = (opts: AgentRun) => {
  const r = runOn<ApplyReport>(opts);
  return { ...r, log: r.changes };
};

const noBabel = (over: MeshOverrides = {}) => sampleMesh({ babeld: { enabled: false }, ...over });

test('vrf: VRF devices made, links enslaved, transit table used for fwmark traffic', () => {
  const { report, log } = runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl', transitNamespace: 'vrf-ul' }) });
  assert.equal(report.ok, true, report.error);
  assert.deepEqual(report.links.added, ['rait50002', 'rait50003']);
  assert.match(log, /^ip link add vrf-ovl type vrf table \d+$/m);
  assert.match(log, /^ip link add vrf-ul type vrf table \d+$/m);
  const ulTable = /^ip link add vrf-ul type vrf table (\d+)$/m.exec(log)![1];
  assert.match(log, new RegExp(`^ip rule add fwmark 54 table ${ulTable}$`, 'm'));
  // What that table cannot route must not fall through to the main table, outside the VRF.
  for (const f of ['4', '6'])
    assert.match(log, new RegExp(`^ip -${f} route add table ${ulTable} unreachable default metric 4278198272$`, 'm'));
  assert.match(log, /^ip link add dev rait50002 type wireguard$/m);
  assert.match(log, /^ip link set dev rait50002 master vrf-ovl$/m);
  assert.match(log, /^ip link set dev rait50003 master vrf-ovl$/m);
  assert.match(
    log,
    /^wg set rait50002 private-key \S+\/private\.key listen-port 50002 fwmark 54 peer \S+ endpoint 10\.0\.0\.2:50001 persistent-keepalive off allowed-ips 0\.0\.0\.0\/0,::\/0$/m,
  );
});

test('vrf with a transit VRF: udp_l3mdev_accept turned on, once, and said so (WireGuard sockets are in no VRF)', () => {
  const mesh = noBabel({ isolation: 'vrf', transitNamespace: 'vrf-ul' });
  const off = runAgent({ mesh });
  assert.equal(off.report.ok, true, off.report.error);
  assert.equal(off.procSys['net/ipv4/udp_l3mdev_accept'], '1\n');
  const l3mdev = (notes: string[]): string[] => notes.filter((n) => n.includes('udp_l3mdev_accept'));
  assert.deepEqual(l3mdev(off.report.notes), [
    "set net.ipv4.udp_l3mdev_accept=1: WireGuard's sockets receive what arrives on the transit VRF vrf-ul (make it permanent in /etc/sysctl.d)",
  ]);
  const on = runAgent({ mesh, procSys: { 'net/ipv4/udp_l3mdev_accept': '1\n' } });
  assert.deepEqual(l3mdev(on.report.notes), []);
  const check = runAgent({ mesh, mode: 'check' });
  assert.equal(check.procSys['net/ipv4/udp_l3mdev_accept'], '0\n');
  assert.match(l3mdev(check.report.notes).join('\n'), /^would set net\.ipv4\.udp_l3mdev_accept=1/);
  // Without a transit VRF the underlay is the main table's, where every socket hears it.
  assert.equal(
    runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl' }) }).procSys['net/ipv4/udp_l3mdev_accept'],
    '0\n',
  );
});

test('vrf on a kernel without VRF: ok:false, says so', () => {
  const { report } = runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl' }), env: { NO_VRF: '1' } });
  assert.equal(report.ok, false);
  assert.match(report.error!, /kernel has no VRF support/);
  assert.deepEqual(report.links.added, []);
});

test('the private key never reaches a command line or the log', () => {
  const { log, queries, stderr, report } = runAgent({ mesh: noBabel() });
  assert.equal(report.ok, true);
  assert.match(log, /private-key \S+private\.key/);
  for (const output of [log, queries, stderr]) assert.ok(!output.includes(PRIVATE_KEY));
});

test('check mode runs no changing command; diffs are JSON-escaped exactly', () => {
  const peers = 'tab\there "quoted" back\\slash bell\u0007\n';
  const { report, log, stderr } = runAgent({ mesh: noBabel(), mode: 'check', files: { 'peers.conf': peers } });
  assert.equal(report.ok, true);
  assert.deepEqual(report.links.added, ['rait50002', 'rait50003']);
  assert.match(stderr, /\[would\] ip link add dev rait50002 type wireguard/);
  const changing = log.split('\n').filter((l) => /^(wg set|ip (link|addr) (add|set|del|replace) dev)/.test(l));
  assert.deepEqual(changing, []);
  const diff = report.files.find((f) => f.name === 'rait.conf')!.diff!;
  assert.match(diff, /^\+PrivateKey = "<redacted>"$/m);
  assert.ok(!diff.includes(PRIVATE_KEY));
  // The bell survives the agent's JSON; parseReport then shows it as "?" (no control characters reach a terminal).
  assert.match(report.files.find((f) => f.name === 'peers.conf')!.diff!, /^@@ -0,0 \+1 @@\n\+tab\there "quoted" back\\slash bell\?\n$/m);
});

const missing: [string, string, string, RegExp][] = [
  ['wg', 'debian', 'ID=ubuntu\nID_LIKE=debian\n', /missing program wg: install package wireguard-tools \(ubuntu debian\)/],
  ['ip', 'fedora', 'ID=fedora\n', /missing program ip: install package iproute \(fedora\)/],
  ['ip', 'alpine', 'ID=alpine\n', /missing program ip: install package iproute2 \(alpine\)/],
  ['wg', 'unknown', 'ID=plan9\n', /missing program wg \(install it; no package name known/],
];
for (const [program, distro, osRelease, message] of missing) {
  test(`missing ${program} on ${distro}: ok:false naming program and package`, () => {
    const { report } = runAgent({ mesh: noBabel(), osRelease, without: [program] });
    assert.equal(report.ok, false);
    assert.match(report.error!, message);
  });
}

test('babeld enabled but not installed: ok:false naming babeld', () => {
  const { report } = runAgent({ mesh: sampleMesh() });
  assert.equal(report.ok, false);
  assert.match(report.error!, /missing program babeld: install package babeld \(debian\)/);
});

test('placement: recorded after a deploy, not by check mode', () => {
  assert.equal(runAgent({ mesh: noBabel() }).placement, 'none - - rait 54\n');
  assert.equal(runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl' }) }).placement, 'vrf vrf-ovl - rait 54\n');
  assert.equal(runAgent({ mesh: noBabel(), mode: 'check' }).placement, undefined);
});

test('placement changed: links are looked for where they were, and the new place is recorded', () => {
  const { report, queries, placement } = runAgent({ mesh: noBabel(), placement: 'netns old-ovl -\n' });
  assert.equal(report.ok, true, report.error);
  assert.match(queries, /^ip -n old-ovl -d -o link show$/m);
  assert.equal(placement, 'none - - rait 54\n');
  const same = runAgent({ mesh: noBabel(), placement: 'none - -\n' });
  assert.doesNotMatch(same.queries + same.log, /^ip -n /m);
});

for (const record of ['', 'garbage', 'netns bad;name -\n', 'none - - extra words\n']) {
  test(`a damaged placement record (${JSON.stringify(record)}): ok:false naming the file, nothing changed`, () => {
    const { report, log } = runAgent({ mesh: noBabel(), placement: record });
    assert.equal(report.ok, false);
    assert.match(report.error!, /\/placement: .*remove it/);
    assert.deepEqual(report.files, []);
    assert.doesNotMatch(log, /link (add|del) (dev )?rait/);
  });
}

test('what the agent makes besides links (VRFs, fwmark rules, namespaces) is recorded, and goes on down', () => {
  const vrf = noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl', transitNamespace: 'vrf-ul' });
  const up = runAgent({ mesh: vrf });
  const table = /^ip link add vrf-ul type vrf table (\d+)$/m.exec(up.log)![1];
  assert.equal(up.configFiles.made, `rule 54 ${table}\nrule6 54 ${table}\nunreach ${table}\nunreach6 ${table}\nvrf vrf-ovl\nvrf vrf-ul\n`);
  const down = runAgent({ mesh: vrf, mode: 'down', configFiles: { made: up.configFiles.made! }, sysNet: ['vrf-ovl', 'vrf-ul'] });
  assert.equal(down.report.ok, true, down.report.error);
  for (const line of [
    'ip link del dev vrf-ovl',
    'ip link del dev vrf-ul',
    `ip rule del fwmark 54 table ${table}`,
    `ip -6 rule del fwmark 54 table ${table}`,
    `ip -4 route del table ${table} unreachable default metric 4278198272`,
    `ip -6 route del table ${table} unreachable default metric 4278198272`,
  ]) {
    assert.match(down.log, new RegExp(`^${escapeRegExp(line)}$`, 'm'));
  }
  assert.equal(down.configFiles.made, undefined);

  const netns = noBabel({ isolation: 'netns', interfaceNamespace: 'mesh' });
  const made = runAgent({ mesh: netns });
  assert.match(made.log, /^ip netns add mesh\nip -n mesh link set lo up$/m);
  assert.equal(made.configFiles.made, 'netns mesh\n');
  // Still needed by the plan: kept. An operator's namespace the agent did not make: never removed.
  const again = runAgent({ mesh: netns, configFiles: { made: 'netns mesh\n' }, facts: { ns: ['mesh', 'netns'] } });
  assert.doesNotMatch(again.log, /netns del/);
  const gone = runAgent({ mesh: netns, mode: 'down', configFiles: { made: 'netns mesh\n' }, facts: { ns: ['mesh', 'deployed'] } });
  assert.doesNotMatch(gone.log, /netns del/, 'a namespace with links of someone else stays');
  const theirs = runAgent({ mesh: netns, mode: 'down', facts: { ns: ['mesh', 'netns'] } });
  assert.doesNotMatch(theirs.log, /netns del/);
});
