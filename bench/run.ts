// `npm run bench`: rait-fleet against the SSH floors, Fabric and Ansible on labs of real nodes, in wall
// time and CPU (control side, nodes, machine); its fixed costs; the agent's cost on one node as links
// grow; the control side's CPU per node with many stub nodes; planning 1,000 nodes. Prints the tables
// and, when every part ran, rewrites BENCHMARKS.md with them (bench/report.ts). Run as root after
// scripts/setup.sh (npm run bench runs bench/setup.sh for Ansible, Fabric, strace).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAgent } from './agent.js';
import { benchControl } from './control.js';
import { benchLab, type LabResult } from './labs.js';
import { settle } from './measure.js';
import { benchPlanning } from './planning.js';
import { report, type BenchResults } from './report.js';
import { Teardown } from './teardown.js';

const PARTS = ['labs', 'fixed', 'agent', 'control', 'plan'] as const;
type Part = (typeof PARTS)[number];

const env = process.env;
const int = (name: string, fallback: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
};
const chosen: Part[] = env.BENCH_PARTS ? (env.BENCH_PARTS.split(',') as Part[]) : [...PARTS];
for (const p of chosen) if (!PARTS.includes(p)) throw new Error(`BENCH_PARTS: unknown part ${p} (parts: ${PARTS.join(', ')})`);
const SIZES = (env.BENCH_SIZES ?? '4,16').split(',').map(Number);
const ROUNDS = int('BENCH_ROUNDS', 7);
const ANSIBLE_RUNS = int('BENCH_ANSIBLE', 1);
const CONTROL_NODES = int('BENCH_CONTROL_NODES', 200);
const AGENT_RUNS = int('BENCH_AGENT_RUNS', 10);
const PLAN_RUNS = int('BENCH_PLAN_RUNS', 3);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCH = join(ROOT, 'dist/bench');
const CLI = join(ROOT, 'dist/src/cli.js');
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-fabric lives (PATH may hold a pyenv one)
const ANSIBLE = '/usr/bin/ansible-playbook';

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

async function settleAfter(what: string): Promise<void> {
  const t0 = Date.now();
  const rate = await settle();
  say(`waited ${((Date.now() - t0) / 1000).toFixed(1)} s after ${what} for a quiet machine (busy ${rate.toFixed(0)} ms/s)`);
}

function firstLine(argv: string[]): string {
  try {
    const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0]!.trim();
  } catch (err) {
    // ssh -V and babeld -V print on stderr (babeld exits non-zero).
    const e = err as { stderr?: string; stdout?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
  }
}

function machine(): [string, string][] {
  return [
    ['CPUs (nproc)', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
    ['memory', `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`],
    ['kernel', firstLine(['uname', '-sr'])],
    ['node', process.version],
    ['ssh', firstLine(['sh', '-c', 'ssh -V 2>&1'])],
    ['wireguard-go', firstLine(['wireguard-go', '--version'])],
    ['babeld', firstLine(['sh', '-c', 'babeld -V 2>&1'])],
    ['ansible', firstLine([ANSIBLE, '--version'])],
    ['fabric', firstLine([PYTHON, '-c', 'import fabric, paramiko; print("fabric", fabric.__version__, "paramiko", paramiko.__version__)'])],
  ];
}

/** Load average and the busiest other processes: what else this machine was doing. */
function quietness(): string {
  const busy = firstLine(['sh', '-c', 'ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk \'{printf "%s%s %s%%", s, $2, $1; s=", "}\'']);
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (busiest processes: ${busy})`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the labs need namespaces and sshd');
  const startedAt = new Date();
  const work = mkdtempSync(join(tmpdir(), 'rfbench-'));
  const teardown = new Teardown(say);
  teardown.add('work directory', async () => rmSync(work, { recursive: true, force: true }));
  process.once('SIGINT', () => {
    say('interrupted: removing the labs');
    void teardown.all().finally(() => process.exit(130));
  });
  const results: BenchResults = {
    startedAt,
    minutes: 0,
    parts: chosen,
    machine: machine(),
    loadBefore: quietness(),
    loadAfter: '',
    rounds: ROUNDS,
    labs: [],
  };
  const has = (p: Part): boolean => chosen.includes(p);
  const paths = {
    node: process.execPath,
    cli: CLI,
    stackFloor: join(BENCH, 'stack-floor.js'),
    wgCreate: join(BENCH, 'wg-create.js'),
    fabric: join(ROOT, 'bench/fabric_deploy.py'),
    python: PYTHON,
    ansible: ANSIBLE,
    ansiblePlaybook: join(ROOT, 'bench/ansible/deploy.yml'),
    work,
  };
  try {
    // Planning needs no lab: first, on a machine no earlier part has left busy, nor an earlier run (the
    // kernel may still be freeing its 200 stub nodes: a run started right after another planned in 930 ms
    // against 526 ms).
    if (has('plan')) {
      await settleAfter('what ran before the bench');
      results.plan = await benchPlanning(paths.node, BENCH, PLAN_RUNS);
    }
    if (has('labs') || has('fixed')) {
      const sizes = has('labs') ? SIZES : [Math.max(...SIZES)];
      const largest = Math.max(...sizes);
      for (const size of sizes) {
        const last = size === largest;
        const lab: LabResult = await benchLab(
          size,
          paths,
          {
            rounds: has('labs') ? ROUNDS : 0,
            coldRuns: has('labs') ? 3 : 0,
            ansibleRuns: has('labs') && last ? ANSIBLE_RUNS : 0,
            wgCreateRuns: has('labs') && last ? 3 : 0,
            fixedRounds: has('fixed') && last ? ROUNDS : 0,
          },
          teardown,
        );
        results.labs.push(lab);
      }
    }
    if (has('agent')) {
      await settleAfter('the labs');
      results.agent = await benchAgent(paths, AGENT_RUNS, teardown);
    }
    if (has('control')) {
      await settleAfter("the agent's lab");
      results.control = await benchControl(paths, CONTROL_NODES, Math.max(3, Math.round(ROUNDS / 2)), teardown);
    }
    results.loadAfter = quietness();
    results.minutes = (Date.now() - startedAt.getTime()) / 60000;
    const md = report(results);
    const everything = PARTS.every(has);
    const out = env.BENCH_OUT ?? (everything ? join(ROOT, 'BENCHMARKS.md') : undefined);
    process.stdout.write(`${md.split('\n## How it is measured')[0]}\n`);
    if (out) {
      writeFileSync(out, md);
      say(`wrote ${out}`);
    } else {
      say('only some parts ran: BENCHMARKS.md left as it was (BENCH_OUT=path writes these tables)');
    }
  } finally {
    await teardown.all();
  }
}

main().catch((err: unknown) => {
  say(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
