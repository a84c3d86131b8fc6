/**
 * Runs the real built agent with `sh`, as rait-fleet does over SSH, against a made-up node: fake
 * `ip` and `wg` (test/fixtures/fake-node) answer queries from facts recorded on real lab nodes
 * (test/fixtures/agent-facts) and note every other call as a change. No root, no network.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeshSettings } from '../../src/inventory/types.js';
import type { NodePlan } from '../../src/mesh/types.js';
import { buildPayload, loadAgentScript } from '../../src/agent/payload.js';
import { parseReport } from '../../src/agent/validate.js';
import type { AgentMode, AgentReport } from '../../src/agent/report.js';
import { samplePlan } from './agent-fixture.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const FAKE_BIN = join(FIXTURES, 'fake-node');
/** The recorded facts of one case (test/fixtures/agent-facts/<name>/: wg, ip, babel). */
export const factsDir = (name: string): string => join(FIXTURES, 'agent-facts', name);

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
];

export interface AgentRun {
  mesh: MeshSettings;
  mode?: AgentMode;
  /** The node's plan; a two-link sample by default. */
  plan?: NodePlan;
  /** Files of the sample plan to replace. */
  files?: Partial<NodePlan['files']>;
  /** Recorded facts of the node's own netns, and of one other netns: [name, case]. */
  facts?: { here?: string; ns?: [string, string] };
  osRelease?: string;
  /** Programs (ip, wg) the node lacks. */
  without?: string[];
  env?: Record<string, string>;
  /** The placement record the node has before the run. */
  placement?: string;
  /** Other files the node has in config_dir before the run, by name. */
  configFiles?: Record<string, string>;
  /** Links (e.g. VRF devices) the node's sysfs lists. */
  sysNet?: string[];
}

export interface AgentResult<R extends AgentReport = AgentReport> {
  report: R;
  /** The changing commands, one per line, in order. */
  changes: string;
  /** The queries (facts read). */
  queries: string;
  stderr: string;
  /** The placement record after the run (undefined: none). */
  placement?: string;
  /** Every file in config_dir after the run, by name. */
  configFiles: Record<string, string>;
}

export function runAgent<R extends AgentReport = AgentReport>(opts: AgentRun): AgentResult<R> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-agent-'));
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const tool of TOOLS)
      symlinkSync(
        execFileSync('sh', ['-c', `command -v ${tool}`])
          .toString()
          .trim(),
        join(bin, tool),
      );
    for (const fake of ['ip', 'wg']) {
      if (opts.without?.includes(fake)) continue;
      writeFileSync(join(bin, fake), readFileSync(join(FAKE_BIN, fake)));
      chmodSync(join(bin, fake), 0o755);
    }
    writeFileSync(join(dir, 'os-release'), opts.osRelease ?? 'ID=debian\n');
    const mesh = { ...opts.mesh, configDir: join(dir, 'etc') };
    const placementFile = join(mesh.configDir, 'placement');
    const preset = { ...opts.configFiles, ...(opts.placement === undefined ? {} : { placement: opts.placement }) };
    if (Object.keys(preset).length > 0) mkdirSync(mesh.configDir);
    for (const [name, text] of Object.entries(preset)) writeFileSync(join(mesh.configDir, name), text);
    const sysNet = join(dir, 'sys-class-net');
    for (const link of opts.sysNet ?? []) mkdirSync(join(sysNet, link), { recursive: true });
    const mode = opts.mode ?? 'deploy';
    const plan = opts.plan ?? samplePlan(opts.files);
    // The node's named network namespaces: the one its facts name.
    const netnsDir = join(dir, 'netns');
    mkdirSync(netnsDir);
    // The agent's own directories are the made-up node's too: a test never writes the host's /run.
    const facts: Record<string, string> = {
      RF_NETNS_DIR: netnsDir,
      RF_RUN_DIR: join(dir, 'run'),
      RF_STATE_DIR: join(dir, 'state'),
      RF_LOG_DIR: join(dir, 'log'),
      RF_SYS_NET: sysNet,
    };
    if (opts.facts?.here) facts.FACTS_HERE = factsDir(opts.facts.here);
    if (opts.facts?.ns) {
      facts.FACTS_NS = `${opts.facts.ns[0]}:${factsDir(opts.facts.ns[1])}`;
      writeFileSync(join(netnsDir, opts.facts.ns[0]), '');
    }
    const r = spawnSync('/bin/sh', ['-s', '--', mode, '-v'], {
      input: buildPayload(plan, mesh, mode, loadAgentScript()),
      env: {
        PATH: bin,
        SHIM_LOG: join(dir, 'changes'),
        SHIM_QUERIES: join(dir, 'queries'),
        RF_OS_RELEASE: join(dir, 'os-release'),
        TMPDIR: dir,
        ...facts,
        ...opts.env,
      },
    });
    assert.equal(r.status, 0, `agent exit ${r.status}: ${r.stderr}`);
    const read = (name: string): string => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
    return {
      report: parseReport(r.stdout.toString(), mode) as R,
      changes: read('changes'),
      queries: read('queries'),
      stderr: r.stderr.toString(),
      placement: existsSync(placementFile) ? readFileSync(placementFile, 'utf8') : undefined,
      configFiles: existsSync(mesh.configDir)
        ? Object.fromEntries(readdirSync(mesh.configDir).map((name) => [name, readFileSync(join(mesh.configDir, name), 'utf8')]))
        : {},
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
