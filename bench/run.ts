// `npm run bench`: rait-fleet against the SSH floors, Ansible and Fabric on labs of 4, 8 and 16
// nodes, each measurement a whole process repeated BENCH_REPS times; prints a table of medians and
// the ratios of issue 7 and writes them, with a description of the machine, into BENCHMARKS.md.
// Run as root after scripts/setup.sh (npm run bench runs bench/setup.sh for Ansible and Fabric).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDown, labUp, type Lab } from '../src/lab/index.js';
import { stageFiles } from './stage.js';
import { formatRatio, formatSample, markdownTable, summarize, type Ratio, type Sample } from './stats.js';

const SIZES = (process.env.BENCH_SIZES ?? '4,8,16').split(',').map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const PLAN_NODES = 1000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli.js');
const BENCH = join(ROOT, 'dist/bench');
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-fabric lives (PATH may hold a pyenv one)
const ANSIBLE = '/usr/bin/ansible-playbook';

const MEASUREMENTS = [
  ['openssh', 'OpenSSH floor (ssh true, parallel)'],
  ['stack', 'stack floor (ssh2 true, one process)'],
  ['cold', 'rait-fleet deploy, cold'],
  ['noop', 'rait-fleet deploy, no-op'],
  ['status', 'rait-fleet status'],
  ['fabric', 'Fabric (same files + agent, no-op)'],
  ['ansibleCold', 'Ansible, cold'],
  ['ansibleNoop', 'Ansible, no-op'],
  ['wgCreate', 'WireGuard creation alone (wireguard-go)'],
] as const;
type Key = (typeof MEASUREMENTS)[number][0];
type Results = Partial<Record<Key, Sample>>;

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

interface Proc {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    execFile(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ ms: performance.now() - t0, code, stdout, stderr });
    });
  });
}

/** Runs argv; a code outside `ok` aborts the benchmark with the process's last words. */
async function must(argv: string[], env: NodeJS.ProcessEnv = {}, ok = [0]): Promise<Proc> {
  const p = await run(argv, env);
  if (!ok.includes(p.code)) {
    const tail = (p.stderr || p.stdout).trim().split('\n').slice(-5).join('\n');
    throw new Error(`${argv.slice(0, 3).join(' ')} … exited with ${p.code}:\n${tail}`);
  }
  return p;
}

/** Times argv REPS times, running `before` (untimed) ahead of each. */
async function sample(
  label: string,
  argv: string[],
  o: { env?: NodeJS.ProcessEnv; ok?: number[]; before?: () => Promise<void> } = {},
): Promise<Sample> {
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    await o.before?.();
    times.push((await must(argv, o.env, o.ok)).ms);
  }
  const s = summarize(times);
  say(`${label}: ${formatSample(s)}`);
  return s;
}

/** One shell process starting `ssh … command` to every node at once; fails if any ssh fails. */
function opensshAll(lab: Lab, command: string): string[] {
  const ssh = `ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${lab.knownHosts} -i ${lab.keyFile}`;
  const hosts = lab.nodes.map((n) => n.address).join(' ');
  const script = `pids=; for h in ${hosts}; do ${ssh} root@$h '${command}' & pids="$pids $!"; done; rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc`;
  return ['sh', '-c', script];
}

async function benchLab(size: number, work: string, labs: Lab[]): Promise<Results> {
  const name = `b${size}${Math.random()
    .toString(36)
    .slice(2, 4)
    .replace(/[^a-z0-9]/g, 'x')}`;
  const inv = join(work, `${name}.yaml`);
  say(`lab ${name}: ${size} nodes`);
  const lab = await labUp({ nodes: size, name, inventory: inv, dir: join(work, name), log: () => {} });
  labs.push(lab);
  const cli = (...args: string[]) => [process.execPath, CLI, ...args];
  await must(cli('keygen', inv));
  const reset = async () => {
    await must(cli('down', inv));
    await must(opensshAll(lab, 'rm -rf /etc/rait /root/rfbench'));
  };
  const r: Results = {};
  r.openssh = await sample('openssh floor', opensshAll(lab, 'true'));
  r.stack = await sample('stack floor', [process.execPath, join(BENCH, 'stack-floor.js'), inv]);
  r.cold = await sample('deploy cold', cli('deploy', inv), { before: reset });
  r.noop = await sample('deploy no-op', cli('deploy', inv));
  // exit 1 = degraded (e.g. a handshake still pending): still a full status run.
  r.status = await sample('status', cli('status', inv), { ok: [0, 1] });

  const stage = join(work, `${name}-stage`);
  await stageFiles(inv, stage);
  const fabricHosts = join(stage, 'hosts.json');
  writeFileSync(
    fabricHosts,
    JSON.stringify(
      lab.nodes.map((n) => ({ name: n.name, host: n.address, key: lab.keyFile, known_hosts: lab.knownHosts, stage: join(stage, n.name) })),
    ),
    { mode: 0o600 },
  );
  const fabric = [PYTHON, join(ROOT, 'bench/fabric_deploy.py'), fabricHosts];
  await must(fabric); // first copy of the files: untimed
  r.fabric = await sample('fabric', fabric);

  const ansibleInventory = join(stage, 'hosts.ini');
  writeFileSync(
    ansibleInventory,
    lab.nodes.map((n) => `${n.name} ansible_host=${n.address}`).join('\n') +
      `\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\nansible_ssh_private_key_file=${lab.keyFile}\n` +
      `ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${lab.knownHosts}'\n`,
    { mode: 0o600 },
  );
  const ansible = [ANSIBLE, '-i', ansibleInventory, '-e', `stage_dir=${stage}`, join(ROOT, 'bench/ansible/deploy.yml')];
  const ansibleEnv = {
    ANSIBLE_FORKS: String(size),
    ANSIBLE_PIPELINING: '1',
    ANSIBLE_GATHERING: 'explicit',
    ANSIBLE_HOST_KEY_CHECKING: '1',
    ANSIBLE_RETRY_FILES_ENABLED: '0',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOCAL_TEMP: join(stage, 'ansible-tmp'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(stage, 'ansible-cp'),
  };
  r.ansibleCold = await sample('ansible cold', ansible, { env: ansibleEnv, before: reset });
  r.ansibleNoop = await sample('ansible no-op', ansible, { env: ansibleEnv });

  const wg: number[] = [];
  await reset();
  for (let i = 0; i < REPS; i++) wg.push(Number((await must([process.execPath, join(BENCH, 'wg-create.js'), inv])).stdout.trim()));
  r.wgCreate = summarize(wg);
  say(`wireguard-go creation: ${formatSample(r.wgCreate)}`);

  await labDown(name, lab.dir);
  labs.splice(labs.indexOf(lab), 1);
  return r;
}

interface PlanResult {
  /** planMesh and every node's links (peers.conf included): what every command does. */
  planMs: Sample;
  planRssMiB: Sample;
  /** Every node's files, babeld.conf through liquidjs: what a deploy of the whole fleet adds. */
  renderMs: Sample;
  /** Peak of the whole process, planning included. */
  renderRssMiB: Sample;
}

async function benchPlanning(): Promise<PlanResult> {
  const samples = { planMs: [] as number[], planRssMiB: [] as number[], renderMs: [] as number[], renderRssMiB: [] as number[] };
  const patterns: [keyof typeof samples, RegExp][] = [
    ['planMs', /^planning \(.*?\)\s+(\d+) ms$/m],
    ['planRssMiB', /^peak RSS after planning\s+(\d+) MiB$/m],
    ['renderMs', /^rendering every node's files\s+(\d+) ms$/m],
    ['renderRssMiB', /^peak RSS after rendering \(whole process\)\s+(\d+) MiB$/m],
  ];
  for (let i = 0; i < REPS; i++) {
    const p = await must([process.execPath, join(BENCH, 'plan.js')], { NODES: String(PLAN_NODES) });
    for (const [key, re] of patterns) {
      const m = re.exec(p.stdout);
      if (!m) throw new Error(`unexpected output of bench/plan.js (no ${key}):\n${p.stdout}`);
      samples[key].push(Number(m[1]));
    }
  }
  const r = {
    planMs: summarize(samples.planMs),
    planRssMiB: summarize(samples.planRssMiB),
    renderMs: summarize(samples.renderMs),
    renderRssMiB: summarize(samples.renderRssMiB),
  };
  say(
    `planning ${PLAN_NODES} nodes: ${formatSample(r.planMs)}, peak RSS ${r.planRssMiB.median} MiB; ` +
      `rendering their files: ${formatSample(r.renderMs)}, peak RSS ${r.renderRssMiB.median} MiB`,
  );
  return r;
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

function sshVersion(): string {
  const p = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' });
  return p.trim();
}

function machine(): [string, string][] {
  return [
    ['CPUs (nproc)', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
    ['memory', `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`],
    ['kernel', firstLine(['uname', '-sr'])],
    ['node', process.version],
    ['ssh', sshVersion()],
    ['wireguard-go', firstLine(['wireguard-go', '--version'])],
    ['babeld', firstLine(['sh', '-c', 'babeld -V 2>&1'])],
    ['ansible', firstLine([ANSIBLE, '--version'])],
    ['fabric', firstLine([PYTHON, '-c', 'import fabric, paramiko; print("fabric", fabric.__version__, "paramiko", paramiko.__version__)'])],
  ];
}

function ratios(r: Results): Ratio[] {
  const m = (k: Key): number => r[k]?.median ?? NaN;
  return [
    { name: 'deploy-noop / stack-floor', value: m('noop') / m('stack'), target: 1.5 },
    { name: 'status / stack-floor', value: m('status') / m('stack'), target: 1.3 },
    { name: 'deploy-noop / fabric', value: m('noop') / m('fabric'), target: 0.8 },
    { name: 'deploy-cold / ansible-cold', value: m('cold') / m('ansibleCold'), target: 0.1 },
    { name: 'deploy-noop / ansible-noop', value: m('noop') / m('ansibleNoop'), target: 0.05 },
    { name: 'WireGuard creation / deploy-cold', value: m('wgCreate') / m('cold') },
  ];
}

function quietness(): string {
  const tests = firstLine(['sh', '-c', 'pgrep -fc "node --test" || true']);
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${tests} other \`node --test\` processes`;
}

function report(all: Map<number, Results>, plan: PlanResult, machineRows: [string, string][], before: string, after: string): string {
  const sizes = [...all.keys()];
  const timings = markdownTable(
    ['measurement (median, min–max)', ...sizes.map((s) => `${s} nodes`)],
    MEASUREMENTS.map(([key, label]) => [
      label,
      ...sizes.map((s) => {
        const x = all.get(s)![key];
        return x ? formatSample(x) : '–';
      }),
    ]),
  );
  const ratioRows = ratios(all.get(sizes[0]!)!).map((r0, i) => [
    r0.name,
    ...sizes.map((s) => {
      const r = ratios(all.get(s)!)[i]!;
      return s === Math.max(...sizes) ? formatRatio(r) : formatRatio({ ...r, target: undefined });
    }),
  ]);
  const ratioTable = markdownTable(['ratio of medians', ...sizes.map((s) => `${s} nodes`)], ratioRows);
  const mib = (x: Sample): string => `${x.median} MiB (${x.min}–${x.max})`;
  const under300MB = (x: Sample): string => `< 300 MB: ${x.median * 1.048576 < 300 ? 'met' : 'missed'}`;
  const planTable = markdownTable(
    ['1,000 synthetic nodes (median, min–max)', 'value', 'target'],
    [
      [
        "planning: plan, peers.conf, every node's links — time",
        formatSample(plan.planMs),
        `< 1 s: ${plan.planMs.median < 1000 ? 'met' : 'missed'}`,
      ],
      ['planning: peak RSS of the process', mib(plan.planRssMiB), under300MB(plan.planRssMiB)],
      ["rendering every node's files (rait.conf, babeld.conf) — time", formatSample(plan.renderMs), '–'],
      ['planning + rendering: peak RSS of the process', mib(plan.renderRssMiB), under300MB(plan.renderRssMiB)],
    ],
  );
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; every number is a whole process`,
    `timed ${REPS} times (median, min–max), all in one run on this machine. Targets are issue 7's, at the largest lab.`,
    '',
    markdownTable(['machine', ''], machineRows),
    '',
    `Machine load: before the run ${before}; after it ${after}.`,
    '',
    '## Timings',
    '',
    timings,
    '',
    '## Ratios',
    '',
    ratioTable,
    '',
    '## Planning',
    '',
    planTable,
    '',
    '## How it is measured',
    '',
    '- Lab nodes are network + mount namespaces on this machine, each with its own sshd and an empty root home; they share its cores',
    "  with the control side, so every timing includes the nodes' own work.",
    '- OpenSSH floor: one `sh` starting `ssh -o BatchMode=yes -o ControlMaster=no … true` to every node at once, same key.',
    '  Stack floor: `node dist/bench/stack-floor.js`, our ssh2 transport to every node at once running `true`.',
    '- Cold: before each run `rait-fleet down` and the files removed, so every node starts empty. No-op: the same deploy again.',
    '- Ansible (`bench/ansible/deploy.yml`) and Fabric (`bench/fabric_deploy.py`) copy the very files deploy sends (plan,',
    '  rait.conf, peers.conf, babeld.conf, private key; staged by bench/stage.ts in a 0700 directory) and run the same agent.',
    '  Ansible: forks = nodes, pipelining on, no fact gathering, its default SSH ControlPersist (which keeps its connections',
    '  open between runs: in its favour). Fabric: one connection per node, all at once from a thread pool.',
    '- WireGuard creation: every node at once starts one `wireguard-go` per peer the way the agent does (start, wait for its',
    "  control socket); the slowest node's time. Kernel WireGuard creates a link in about a millisecond, so with it a cold",
    '  deploy costs roughly the cold time minus this.',
    '- Planning (`node dist/bench/plan.js`, one process per repetition): planMesh on a 1,000-node inventory with babeld, then',
    "  every node's links (999,000); the plan computes each node's files when first read, so rendering them all (what a deploy",
    "  of the whole fleet does; `--limit` renders only its nodes) is timed as its own step, with the process's peak RSS after it.",
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the lab needs namespaces and sshd');
  const work = mkdtempSync(join(tmpdir(), 'rfbench-'));
  const labs: Lab[] = [];
  const cleanup = async () => {
    for (const lab of labs.splice(0)) await labDown(lab.name, lab.dir).catch((e: Error) => say(`lab down ${lab.name}: ${e.message}`));
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    say('interrupted: removing the labs');
    void cleanup().finally(() => process.exit(130));
  });
  const before = quietness();
  const machineRows = machine();
  const all = new Map<number, Results>();
  try {
    for (const size of SIZES) all.set(size, await benchLab(size, work, labs));
    const plan = await benchPlanning();
    const after = quietness();
    const md = report(all, plan, machineRows, before, after);
    writeFileSync(join(ROOT, 'BENCHMARKS.md'), md);
    process.stdout.write(`${md.split('\n## How it is measured')[0]}\n`);
    say(`wrote ${join(ROOT, 'BENCHMARKS.md')}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  say(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
