/**
 * The real rait-agent.sh run by sh with fake `ip` and `wg` on PATH that record their argv:
 * no root, no network. Covers what this machine cannot run for real (VRF) and the failure paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshSettings } from '../../src/inventory/types.js';
import type { NodePlan } from '../../src/mesh/types.js';
import { buildPayload, loadAgentScript } from '../../src/agent/payload.js';
import { parseReport } from '../../src/agent/validate.js';
import type { AgentMode, ApplyReport } from '../../src/agent/report.js';
import { sampleMesh, type MeshOverrides } from '../fixtures/mesh-settings.js';
import { PRIVATE_KEY, samplePlan } from './agent-fixture.js';

const TOOLS = [
  'awk',
  'sed',
  'cat',
  'mktemp',
  'rm',
  'tr',
  'sort',
  'grep',
  'head',
  'tail',
  'find',
  'cmp',
  'mv',
  'ln',
  'chmod',
  'mkdir',
  'cksum',
  'date',
  'uname',
  'diff',
  'sha256sum',
  'sleep',
];

/** ip fails "show" (nothing exists yet) and, with NO_VRF=1, refuses VRF devices like a kernel without VRF. */
const FAKE_IP = `#!/bin/sh
echo "ip $*" >>"$SHIM_LOG"
case "$*" in
*"type vrf"*) [ "\${NO_VRF:-0}" = 1 ] && { echo 'Error: Unknown device type.' >&2; exit 2; } ;;
*show* | *list*) exit 1 ;;
esac
exit 0
`;
const FAKE_WG = `#!/bin/sh
echo "wg $*" >>"$SHIM_LOG"
`;

/** placement: the node's placement record after the run (undefined: none). */
interface Run {
  report: ApplyReport;
  log: string;
  stderr: string;
  placement?: string;
}

interface AgentRun {
  mesh: MeshSettings;
  mode?: AgentMode;
  files?: Partial<NodePlan['files']>;
  osRelease?: string;
  without?: string[];
  env?: Record<string, string>;
  /** The placement record the node has before the run. */
  placement?: string;
}

function runAgent(opts: AgentRun): Run {
  const dir = mkdtempSync(join(tmpdir(), 'rf-agent-'));
  try {
    const bin = join(dir, 'bin');
    execFileSync('mkdir', [bin]);
    for (const tool of TOOLS) {
      const path = execFileSync('sh', ['-c', `command -v ${tool}`])
        .toString()
        .trim();
      symlinkSync(path, join(bin, tool));
    }
    for (const [name, text] of [
      ['ip', FAKE_IP],
      ['wg', FAKE_WG],
    ] as const) {
      if (opts.without?.includes(name)) continue;
      writeFileSync(join(bin, name), text);
      chmodSync(join(bin, name), 0o755);
    }
    writeFileSync(join(dir, 'os-release'), opts.osRelease ?? 'ID=debian\n');
    const mesh = { ...opts.mesh, configDir: join(dir, 'etc') };
    const placementFile = join(mesh.configDir, 'placement');
    if (opts.placement !== undefined) {
      mkdirSync(mesh.configDir);
      writeFileSync(placementFile, opts.placement);
    }
    const mode = opts.mode ?? 'deploy';
    const r = spawnSync('/bin/sh', ['-s', '--', mode, '-v'], {
      input: buildPayload(samplePlan(opts.files), mesh, mode, loadAgentScript()),
      env: { PATH: bin, SHIM_LOG: join(dir, 'log'), RF_OS_RELEASE: join(dir, 'os-release'), TMPDIR: dir, ...opts.env },
    });
    assert.equal(r.status, 0, `agent exit ${r.status}: ${r.stderr}`);
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
    const placement = existsSync(placementFile) ? readFileSync(placementFile, 'utf8') : undefined;
    return { report: parseReport(r.stdout.toString(), mode) as ApplyReport, log, stderr: r.stderr.toString(), placement };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noBabel = (over: MeshOverrides = {}) => sampleMesh({ babeld: { enabled: false }, ...over });

test('vrf: VRF devices made, links enslaved, transit table used for fwmark traffic', () => {
  const { report, log } = runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl', transitNamespace: 'vrf-ul' }) });
  assert.equal(report.ok, true, report.error);
  assert.deepEqual(report.links.added, ['rait50002', 'rait50003']);
  assert.match(log, /^ip link add vrf-ovl type vrf table \d+$/m);
  assert.match(log, /^ip link add vrf-ul type vrf table \d+$/m);
  const ulTable = /^ip link add vrf-ul type vrf table (\d+)$/m.exec(log)![1];
  assert.match(log, new RegExp(`^ip rule add fwmark 54 table ${ulTable}$`, 'm'));
  assert.match(log, /^ip link add dev rait50002 type wireguard$/m);
  assert.match(log, /^ip link set dev rait50002 master vrf-ovl$/m);
  assert.match(log, /^ip link set dev rait50003 master vrf-ovl$/m);
  assert.match(
    log,
    /^wg set rait50002 private-key \S+\/private\.key listen-port 50002 fwmark 54 peer \S+ endpoint 10\.0\.0\.2:50001 allowed-ips 0\.0\.0\.0\/0,::\/0$/m,
  );
});

test('vrf on a kernel without VRF: ok:false, says so', () => {
  const { report } = runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl' }), env: { NO_VRF: '1' } });
  assert.equal(report.ok, false);
  assert.match(report.error!, /kernel has no VRF support/);
  assert.deepEqual(report.links.added, []);
});

test('the private key never reaches a command line or the log', () => {
  const { log, stderr, report } = runAgent({ mesh: noBabel() });
  assert.equal(report.ok, true);
  assert.match(log, /private-key \S+private\.key/);
  assert.ok(!log.includes(PRIVATE_KEY) && !stderr.includes(PRIVATE_KEY));
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
  assert.equal(runAgent({ mesh: noBabel() }).placement, 'none - -\n');
  assert.equal(runAgent({ mesh: noBabel({ isolation: 'vrf', interfaceNamespace: 'vrf-ovl' }) }).placement, 'vrf vrf-ovl -\n');
  assert.equal(runAgent({ mesh: noBabel(), mode: 'check' }).placement, undefined);
});

test('placement changed: links are looked for where they were, and the new place is recorded', () => {
  const { report, log, placement } = runAgent({ mesh: noBabel(), placement: 'netns old-ovl -\n' });
  assert.equal(report.ok, true, report.error);
  assert.match(log, /^ip -n old-ovl -o link show group 54$/m);
  assert.equal(placement, 'none - -\n');
  const same = runAgent({ mesh: noBabel(), placement: 'none - -\n' });
  assert.doesNotMatch(same.log, /^ip -n /m);
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
