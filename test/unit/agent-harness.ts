/**
 * Runs the real built agent with `sh`, as rait-fleet does over SSH, against a made-up node: fake
 * `ip` and `wg` (test/fixtures/fake-node) answer queries from facts recorded on real lab nodes
 * (test/fixtures/agent-facts) and note every other call as a change. No root, no network.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeshSettings } from '../../src/inventory/types.js';
import type { NodePlan } from '../../src/mesh/types.js';
import { agentCommand, buildPayload, loadAgentScript, type SnapshotArgs } from '../../src/agent/payload.js';
import { parseReport } from '../../src/agent/validate.js';
import type { AgentMode, AgentReport, RemoteMode } from '../../src/agent/report.js';
import { samplePlan } from './agent-fixture.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const FAKE_BIN = join(FIXTURES, 'fake-node');
/** The recorded facts of one case (test/fixtures/agent-facts/<name>/: wg, ip, babel), or a directory of facts made by a test. */
export const factsDir = (name: string): string => (name.startsWith('/') ? name : join(FIXTURES, 'agent-facts', name));

/** Real programs the agent may use beside the fakes. */
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
  'sh',
  'wc',
  'cp',
  'rmdir',
  'cut',
  'openssl',
  'setsid',
];

/** What the made-up node has, whatever runs on it. */
export interface NodeSetup {
  /** Recorded facts of the node's own netns, and of one other netns: [name, case]. */
  facts?: { here?: string; ns?: [string, string] };
  osRelease?: string;
  /** Programs (ip, wg, curl, …) the node lacks. */
  without?: string[];
  /** Links (e.g. VRF devices) the node's sysfs lists. */
  sysNet?: string[];
  /** systemd runs the node (PID 1). */
  systemd?: boolean;
  /** What the node's getent resolves: "address name" lines. */
  hosts?: string;
  /** The node's /proc/sys files, by path under it; udp_l3mdev_accept is 0 unless given. */
  procSys?: Record<string, string>;
  /** Real tools whose every call is noted ("tool args" lines in AgentResult.spied). */
  spy?: string[];
}

export interface AgentRun extends NodeSetup {
  mesh: MeshSettings;
  mode?: RemoteMode;
  /** The node's plan; a two-link sample by default. */
  plan?: NodePlan;
  /** Files of the sample plan to replace. */
  files?: Partial<NodePlan['files']>;
  env?: Record<string, string>;
  /** The placement record the node has before the run. */
  placement?: string;
  /** Other files the node has in config_dir before the run, by name. */
  configFiles?: Record<string, string>;
  /** Another config_dir than the node's usual one. */
  configDir?: string;
  /** --snapshot (and --switch) as rait-fleet passes them. */
  snapshot?: SnapshotArgs;
}

export interface AgentResult<R extends AgentReport = AgentReport> {
  report: R;
  /** The run's exit status (the SSH modes exit 0 whenever they report). */
  status: number | null;
  /** The changing commands, one per line, in order. */
  changes: string;
  /** The queries (facts read). */
  queries: string;
  stderr: string;
  /** The calls of the spied tools, in order. */
  spied: string;
  /** The node's /proc/sys files after the run, by path under it. */
  procSys: Record<string, string>;
  /** The placement record after the run (undefined: none). */
  placement?: string;
  /** Every file in config_dir after the run, by name. */
  configFiles: Record<string, string>;
}

/** A node made of a temporary directory: its PATH (real tools, fake ip/wg/systemctl), config_dir, /run, units. */
export class MadeUpNode {
  readonly dir = mkdtempSync(join(tmpdir(), 'rf-agent-'));
  readonly configDir = join(this.dir, 'etc');
  readonly unitDir = join(this.dir, 'units');
  /** What the made-up node's curl serves: http(s)://any-host/PATH is the file web/PATH. */
  readonly web = join(this.dir, 'web');
  /** The agent's own state directory (RF_STATE_DIR). */
  readonly stateDir = join(this.dir, 'state');
  /** The agent's snapshots (rollback.sh): <state dir>/rollback. */
  readonly snapshotDir = join(this.dir, 'state', 'rollback');
  private readonly env: Record<string, string>;
  private readonly procSys: Record<string, string>;

  constructor(setup: NodeSetup = {}) {
    const bin = join(this.dir, 'bin');
    mkdirSync(bin);
    for (const tool of TOOLS) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      if (setup.spy?.includes(tool)) {
        writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >>"$SHIM_SPIED"\nexec ${real} "$@"\n`, { mode: 0o755 });
      } else symlinkSync(real, join(bin, tool));
    }
    for (const fake of ['ip', 'wg', 'systemctl', 'systemd-run', 'getent', 'curl']) {
      if (setup.without?.includes(fake)) continue;
      writeFileSync(join(bin, fake), readFileSync(join(FAKE_BIN, fake)));
      chmodSync(join(bin, fake), 0o755);
    }
    writeFileSync(join(this.dir, 'os-release'), setup.osRelease ?? 'ID=debian\n');
    const sysNet = join(this.dir, 'sys-class-net');
    for (const link of setup.sysNet ?? []) mkdirSync(join(sysNet, link), { recursive: true });
    // The node's named network namespaces: the one its facts name.
    const netnsDir = join(this.dir, 'netns');
    mkdirSync(netnsDir);
    if (setup.facts?.ns) writeFileSync(join(netnsDir, setup.facts.ns[0]), '');
    const systemdRun = join(this.dir, 'run-systemd-system');
    if (setup.systemd) mkdirSync(systemdRun);
    mkdirSync(this.unitDir);
    writeFileSync(join(this.dir, 'hosts'), setup.hosts ?? '');
    this.procSys = { 'net/ipv4/udp_l3mdev_accept': '0\n', ...setup.procSys };
    for (const [path, value] of Object.entries(this.procSys)) {
      mkdirSync(dirname(join(this.dir, 'proc-sys', path)), { recursive: true });
      writeFileSync(join(this.dir, 'proc-sys', path), value);
    }
    // The agent's own directories are the made-up node's too: a test never writes the host's /run.
    this.env = {
      PATH: bin,
      SHIM_LOG: join(this.dir, 'changes'),
      SHIM_QUERIES: join(this.dir, 'queries'),
      SHIM_SPIED: join(this.dir, 'spied'),
      RF_OS_RELEASE: join(this.dir, 'os-release'),
      TMPDIR: this.dir,
      RF_NETNS_DIR: netnsDir,
      RF_RUN_DIR: join(this.dir, 'run'),
      RF_STATE_DIR: this.stateDir,
      RF_LOG_DIR: join(this.dir, 'log'),
      RF_SYS_NET: sysNet,
      RF_PROC_SYS: join(this.dir, 'proc-sys'),
      RF_SYSTEMD_RUN: systemdRun,
      RF_UNIT_DIR: this.unitDir,
      FAKE_HOSTS: join(this.dir, 'hosts'),
      FAKE_WEB: this.web,
      ...(setup.facts?.here && { FACTS_HERE: factsDir(setup.facts.here) }),
      ...(setup.facts?.ns && { FACTS_NS: `${setup.facts.ns[0]}:${factsDir(setup.facts.ns[1])}` }),
    };
  }

  /** The agent as rait-fleet runs it over SSH: sh reading the payload for `mode`. */
  run<R extends AgentReport = AgentReport>(opts: AgentRun): AgentResult<R> {
    const mesh = { ...opts.mesh, configDir: opts.configDir ?? this.configDir };
    const preset = { ...opts.configFiles, ...(opts.placement === undefined ? {} : { placement: opts.placement }) };
    if (Object.keys(preset).length > 0) mkdirSync(this.configDir, { recursive: true });
    for (const [name, text] of Object.entries(preset)) writeFileSync(join(this.configDir, name), text);
    const mode = opts.mode ?? 'deploy';
    const plan = opts.plan ?? samplePlan(opts.files);
    // The command line rait-fleet sends, without its "sh".
    const args = agentCommand(mode, { verbose: true, become: false, snapshot: opts.snapshot }).split(' ').slice(1);
    return this.exec<R>(args, mode, buildPayload(plan, mesh, mode, loadAgentScript()), opts.env);
  }

  /** The agent a deploy left in config_dir, run on the node alone: `rait-fleet-agent apply|pull|status ...`. */
  resident<R extends AgentReport = AgentReport>(args: ['apply' | 'pull' | 'status', ...string[]]): AgentResult<R> {
    return this.exec<R>([join(this.configDir, 'rait-fleet-agent'), ...args], args[0], '');
  }

  /** An agent run as the node would start it on its own (a switch firing): `sh AGENT MODE …`; its output as is. */
  sh(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('/bin/sh', args, { env: this.env });
    return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  private exec<R extends AgentReport>(args: string[], mode: AgentMode, input: string, env: Record<string, string> = {}): AgentResult<R> {
    for (const log of ['changes', 'queries', 'spied']) rmSync(join(this.dir, log), { force: true });
    const r = spawnSync('/bin/sh', args, { input, env: { ...this.env, ...env } });
    const stdout = r.stdout.toString();
    assert.ok(stdout.startsWith('{'), `agent exit ${r.status} without a report: ${r.stderr}`);
    const read = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
    return {
      report: parseReport(stdout, mode) as R,
      status: r.status,
      changes: read(join(this.dir, 'changes')) ?? '',
      queries: read(join(this.dir, 'queries')) ?? '',
      spied: read(join(this.dir, 'spied')) ?? '',
      stderr: r.stderr.toString(),
      procSys: Object.fromEntries(Object.keys(this.procSys).map((path) => [path, read(join(this.dir, 'proc-sys', path)) ?? ''])),
      placement: read(join(this.configDir, 'placement')),
      configFiles: existsSync(this.configDir)
        ? Object.fromEntries(readdirSync(this.configDir).map((name) => [name, readFileSync(join(this.configDir, name), 'utf8')]))
        : {},
    };
  }

  /** Changes what the node's getent resolves. */
  setHosts(hosts: string): void {
    writeFileSync(join(this.dir, 'hosts'), hosts);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One run on a node of its own, removed afterwards. The SSH modes exit 0 whenever they report. */
export function runAgent<R extends AgentReport = AgentReport>(opts: AgentRun): AgentResult<R> {
  const node = new MadeUpNode(opts);
  try {
    const result = node.run<R>(opts);
    assert.equal(result.status, 0, `agent exit ${result.status}: ${result.stderr}`);
    return result;
  } finally {
    node.remove();
  }
}

/**
 * Runs a shell snippet with the agent's functions defined: the built agent without its last line
 * (`main "$@"`) is sourced first. `files` are written to a temporary directory, the snippet's $1.
 * Returns the snippet's stdout.
 */
export function agentShell(snippet: string, files: Record<string, string> = {}): string {
  const lines = loadAgentScript().trimEnd().split('\n');
  assert.equal(lines.at(-1), 'main "$@"', 'the agent ends by calling main');
  const dir = mkdtempSync(join(tmpdir(), 'rf-agent-lib-'));
  try {
    writeFileSync(join(dir, 'lib.sh'), `${lines.slice(0, -1).join('\n')}\n`);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return execFileSync('/bin/sh', ['-c', `. "$1/lib.sh"\n${snippet}`, 'sh', dir], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls agent functions directly, each [function, argument]; returns whether each succeeded. */
export function agentFunctions(calls: [string, string][]): boolean[] {
  // One value per line, read back with read -r: any character but a newline reaches the function.
  const out = agentShell('while read -r fn arg; do if "$fn" "$arg"; then echo 1; else echo 0; fi; done <"$1/calls"', {
    calls: calls.map(([fn, arg]) => `${fn} ${arg}\n`).join(''),
  });
  return out
    .trim()
    .split('\n')
    .map((l) => l === '1');
}
