// BENCHMARKS.md from one run's results: the targets of issue 14 first, then every table behind them.
import { AGENT_LINKS, type AgentScale } from './agent.js';
import { CONTROL_FORKS, type ControlResult } from './control.js';
import { FIXED_CASES } from './fixed.js';
import { LAB_CASES, type LabKey, type LabResult } from './labs.js';
import { PLAN_NODES, type PlanResult } from './planning.js';
import type { CostSample } from './rounds.js';
import { duration, formatRatio, formatSample, markdownTable, type Ratio, type Sample } from './stats.js';

export interface BenchResults {
  startedAt: Date;
  minutes: number;
  parts: string[];
  machine: [string, string][];
  loadBefore: string;
  loadAfter: string;
  rounds: number;
  labs: LabResult[];
  agent?: AgentScale[];
  control?: ControlResult;
  plan?: PlanResult;
}

const med = (s: Sample | undefined): number => s?.median ?? NaN;
const cpuCell = (s: Sample | undefined): string => (s ? duration(s.median) : '–');
/** One decimal below 100 ms: the agent's and the per-node figures are small. */
const fine = (ms: number): string => (Number.isNaN(ms) ? '–' : ms < 100 ? `${ms.toFixed(1)} ms` : duration(ms));
const met = (value: number, bound: number): string => (Number.isNaN(value) ? 'not measured' : value <= bound ? 'met' : 'missed');

/** The control process's CPU plus the nodes': what the run cost the machine, other work not counted. */
const total = (c: CostSample | undefined): Sample | undefined => c?.total;

interface TargetRow {
  target: string;
  measured: string;
  verdict: string;
}

function labRatios(r: LabResult): (Ratio & { label: string })[] {
  const c = (k: LabKey) => r.costs.get(k);
  const ratio = (label: string, name: string, a: number, b: number, target?: number) => ({ label, name, value: a / b, target });
  return [
    ratio('no-op deploy / stack floor, wall time', 'noop-wall', med(c('noop')?.wall), med(c('stack')?.wall), 1.5),
    ratio("no-op deploy / stack floor, the process's CPU", 'noop-cpu', med(c('noop')?.cpu), med(c('stack')?.cpu), 1.3),
    ratio('no-op deploy / stack floor, CPU of control + nodes', 'noop-total', med(total(c('noop'))), med(total(c('stack'))), 1.5),
    ratio('no-op deploy / Fabric, wall time', 'noop-fabric', med(c('noop')?.wall), med(c('fabric')?.wall), 1.0),
    ratio('status / stack floor, wall time', 'status-wall', med(c('status')?.wall), med(c('stack')?.wall), 1.5),
    ratio('status / stack floor, CPU of control + nodes', 'status-total', med(total(c('status'))), med(total(c('stack'))), 1.5),
    ratio('no-op deploy / stack floor, machine CPU (/proc/stat)', 'noop-machine', med(c('noop')?.machine), med(c('stack')?.machine)),
    ratio('no-op deploy / OpenSSH floor, wall time', 'noop-openssh', med(c('noop')?.wall), med(c('openssh')?.wall)),
    ratio('cold deploy / Ansible cold, wall time', 'cold-ansible', med(c('cold')?.wall), med(c('ansibleCold')?.wall), 0.1),
    ratio('no-op deploy / Ansible no-op, wall time', 'noop-ansible', med(c('noop')?.wall), med(c('ansibleNoop')?.wall), 0.05),
    ratio('WireGuard creation alone / cold deploy, wall time', 'wg-cold', med(r.wgCreate), med(c('cold')?.wall)),
  ];
}

/** Slope (ms per link) between two sizes of the agent benchmark. */
function slope(a: AgentScale, b: AgentScale, pick: (s: AgentScale) => number): number {
  return (pick(b) - pick(a)) / (b.links - a.links);
}

/** Linear when the slope over the larger sizes is within 25 % of the slope over the smaller ones. */
function linearity(agent: AgentScale[], pick: (s: AgentScale) => number): { perLink: number; verdict: string; detail: string } {
  const [a, b, c] = agent;
  if (!a || !b || !c) return { perLink: NaN, verdict: 'not measured', detail: '' };
  const low = slope(a, b, pick);
  const high = slope(b, c, pick);
  const ratio = high / low;
  const verdict = Math.abs(ratio - 1) <= 0.25 ? 'linear' : ratio > 1 ? 'grows faster than linear' : 'grows slower than linear';
  return {
    perLink: slope(a, c, pick),
    verdict,
    detail: `${fine(low)}/link from ${a.links} to ${b.links} links, ${fine(high)}/link from ${b.links} to ${c.links}`,
  };
}

function targets(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  const largest = r.labs.at(-1);
  if (largest) {
    const at = `(${largest.size} nodes)`;
    for (const q of labRatios(largest).filter((x) => x.target !== undefined && !Number.isNaN(x.value))) {
      rows.push({
        target: `${q.label} ≤ ${q.target} ${at}`,
        measured: formatRatio({ ...q, target: undefined }),
        verdict: met(q.value, q.target!),
      });
    }
  }
  if (r.agent?.length) {
    const at15 = r.agent.find((s) => s.links === 15);
    if (at15) {
      rows.push({
        target: "the agent's no-op deploy ≤ 15 ms of CPU with 15 links",
        measured: fine(at15.deploy.cpu.median),
        verdict: met(at15.deploy.cpu.median, 15),
      });
    }
    const lin = linearity(r.agent, (s) => s.deploy.cpu.median);
    rows.push({
      target: 'the agent grows linearly with links (15, 63, 127)',
      measured: lin.detail,
      verdict: lin.verdict === 'linear' ? 'met' : `missed: ${lin.verdict}`,
    });
  }
  const fixed = largest?.fixed;
  if (fixed) {
    for (const [key, what] of [
      ['limit', 'no-op `deploy --limit n1`'],
      ['render', '`render --node n1`'],
    ] as const) {
      const cpu = med(fixed.get(key)?.cpu);
      rows.push({ target: `${what} ≤ 150 ms of control CPU`, measured: duration(cpu), verdict: met(cpu, 150) });
    }
  }
  if (r.plan) {
    const both = r.plan.planMs.median + r.plan.renderMs.median;
    rows.push({
      target: `planning ${PLAN_NODES.toLocaleString('en')} nodes < 1 s`,
      measured: duration(r.plan.planMs.median),
      verdict: met(r.plan.planMs.median, 999),
    });
    rows.push({ target: `planning + rendering every node's files < 1 s`, measured: duration(both), verdict: met(both, 999) });
    rows.push({
      target: 'planning + rendering < 300 MB peak RSS',
      measured: `${r.plan.renderRssMiB.median} MiB`,
      verdict: met(r.plan.renderRssMiB.median * 1.048576, 299),
    });
  }
  return rows;
}

function labTable(l: LabResult): string {
  const rows = LAB_CASES.filter(([k]) => l.costs.has(k)).map(([k, label]) => {
    const c = l.costs.get(k)!;
    return [label, formatSample(c.wall), cpuCell(c.cpu), cpuCell(c.nodes), cpuCell(c.total), cpuCell(c.machine)];
  });
  if (l.wgCreate) rows.push(['WireGuard creation alone (wireguard-go), slowest node', formatSample(l.wgCreate), '–', '–', '–', '–']);
  return markdownTable(['median of the rounds', 'wall (min–max)', 'control CPU', "nodes' CPU", 'control + nodes', 'machine CPU'], rows);
}

function ratioTable(labs: LabResult[]): string {
  const all = labs.map(labRatios);
  const rows = all[0]!
    .map((r0, i) => [
      r0.label,
      ...labs.map((l, j) => {
        const r = all[j]![i]!;
        if (Number.isNaN(r.value)) return '–';
        return l === labs.at(-1) ? formatRatio(r) : formatRatio({ ...r, target: undefined });
      }),
    ])
    .filter((row) => row.slice(1).some((cell) => cell !== '–'));
  return markdownTable(['ratio of medians', ...labs.map((l) => `${l.size} nodes`)], rows);
}

function fixedTable(l: LabResult): string {
  const f = l.fixed!;
  return markdownTable(
    ['median of the rounds', 'control CPU (min–max)', 'wall', "n1's CPU", 'peak RSS'],
    FIXED_CASES.map(([k, label]) => {
      const c = f.get(k)!;
      return [
        label,
        formatSample(c.cpu),
        duration(c.wall.median),
        c.nodes ? duration(c.nodes.median) : '–',
        `${(c.maxRssKiB.median / 1024).toFixed(0)} MiB`,
      ];
    }),
  );
}

function agentSection(agent: AgentScale[]): string {
  const table = markdownTable(
    [
      'links',
      'no-op deploy: CPU (min–max)',
      'wall',
      'status: CPU',
      'processes per no-op deploy',
      "node's CPU for deploy --limit n1 over SSH",
      'for ssh n1 true',
      'wireguard-go RSS',
    ],
    agent.map((s) => [
      String(s.links),
      `${fine(s.deploy.cpu.median)} (${fine(s.deploy.cpu.min)}–${fine(s.deploy.cpu.max)})`,
      duration(s.deploy.wall.median),
      fine(s.status.cpu.median),
      String(s.processes),
      duration(s.overSsh.median),
      duration(s.sshTrue.median),
      `${s.wireguardGoMiB.toFixed(0)} MiB`,
    ]),
  );
  const lin = linearity(agent, (s) => s.deploy.cpu.median);
  const linStatus = linearity(agent, (s) => s.status.cpu.median);
  const procs = linearity(agent, (s) => s.processes);
  const stepNames = [...new Set(agent.flatMap((s) => s.steps.map((x) => x.step)))];
  const steps = markdownTable(
    ['step (to the next step’s start)', ...agent.map((s) => `${s.links} links: CPU`), ...agent.map((s) => `${s.links}: processes`)],
    stepNames.map((step) => {
      const calls = agent.map((s) => s.steps.find((x) => x.step === step)?.calls ?? 0);
      return [
        calls.some((n) => n > 1) ? `${step} (×${calls.join('/')})` : step,
        ...agent.map((s) => fine(s.steps.find((x) => x.step === step)?.cpuMs ?? NaN)),
        ...agent.map((s) => String(s.steps.find((x) => x.step === step)?.processes ?? '–')),
      ];
    }),
  );
  const programs = [...new Set(agent.flatMap((s) => [...s.execs.keys()]))].sort(
    (a, b) => (agent.at(-1)!.execs.get(b) ?? 0) - (agent.at(-1)!.execs.get(a) ?? 0) || a.localeCompare(b),
  );
  const progTable = markdownTable(
    ['program', ...agent.map((s) => `${s.links} links`)],
    programs.map((prog) => [prog, ...agent.map((s) => String(s.execs.get(prog) ?? 0))]),
  );
  return [
    table,
    '',
    `Per link (15 to 127 links): no-op deploy ${fine(lin.perLink)} of CPU (${lin.detail}: ${lin.verdict}); ` +
      `status ${fine(linStatus.perLink)} (${linStatus.verdict}); processes ${procs.perLink.toFixed(2)} per link (${procs.verdict}).`,
    '',
    'Where a no-op deploy spends its CPU, step by step (mean of the runs; each row runs from that step’s start to the next',
    'recorded start, so a step’s row ends where a step it calls begins; ×n: calls per run at each size):',
    '',
    steps,
    '',
    'Programs a no-op deploy executes (from `strace -f`), per run:',
    '',
    progTable,
  ].join('\n');
}

function controlSection(c: ControlResult): string {
  const one = med(c.costs.get('one')?.cpu);
  const rows: string[][] = [];
  const add = (key: string, label: string): void => {
    const x = c.costs.get(key);
    if (!x) return;
    const marginal = (x.cpu.median - one) / (c.nodes - 1);
    rows.push([
      label,
      formatSample(x.wall),
      duration(x.cpu.median),
      key === 'one' ? '–' : fine(x.cpu.median / c.nodes),
      key === 'one' || key === 'floor' ? '–' : fine(marginal),
      x.nodes ? fine(x.nodes.median / (key === 'one' ? 1 : c.nodes)) : '–',
      `${(x.maxRssKiB.median / 1024).toFixed(0)} MiB`,
    ]);
  };
  add('floor', `stack floor: ssh2 \`true\` on all ${c.nodes} at once`);
  add('one', 'deploy --limit n1 (the fixed part)');
  for (const f of CONTROL_FORKS) add(`deploy:${f}`, `deploy, --forks ${f}`);
  for (const f of CONTROL_FORKS) add(`status:${f}`, `status, --forks ${f}`);
  return markdownTable(
    [
      'median of the rounds',
      'wall (min–max)',
      'control CPU',
      'control CPU / node',
      'beyond the fixed part, / node',
      'stub node’s CPU / node',
      'peak RSS',
    ],
    rows,
  );
}

function planTable(plan: PlanResult): string {
  const mib = (x: Sample): string => `${x.median} MiB (${x.min}–${x.max})`;
  return markdownTable(
    [`${PLAN_NODES.toLocaleString('en')} synthetic nodes (median, min–max)`, 'value', 'target'],
    [
      ["planning: plan, peers.conf, every node's links — time", formatSample(plan.planMs), `< 1 s: ${met(plan.planMs.median, 999)}`],
      ['planning: peak RSS of the process', mib(plan.planRssMiB), `< 300 MB: ${met(plan.planRssMiB.median * 1.048576, 299)}`],
      ["rendering every node's files (rait.conf, babeld.conf) — time", formatSample(plan.renderMs), '–'],
      [
        'planning + rendering — time',
        duration(plan.planMs.median + plan.renderMs.median),
        `< 1 s: ${met(plan.planMs.median + plan.renderMs.median, 999)}`,
      ],
      [
        'planning + rendering: peak RSS of the process',
        mib(plan.renderRssMiB),
        `< 300 MB: ${met(plan.renderRssMiB.median * 1.048576, 299)}`,
      ],
      ["checking every node's key pair (X25519, OpenSSL) — time", formatSample(plan.checkMs), '–'],
      ["status: analysing every node's reply (healthy mesh) — time", formatSample(plan.analyseMs), '–'],
      ['status: printing the result (200 columns: links not up) — time', formatSample(plan.printMs), '–'],
    ],
  );
}

export function report(r: BenchResults): string {
  const out: string[] = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC in ${r.minutes.toFixed(1)} min;`,
    `every number comes from this one run on this machine: medians (min–max) of ${r.rounds} interleaved rounds unless said otherwise.`,
    '',
    markdownTable(['machine', ''], r.machine),
    '',
    `Machine load: before the run ${r.loadBefore}; after it ${r.loadAfter}.`,
    '',
    '## Targets (issue 14)',
    '',
    markdownTable(
      ['target', 'measured', ''],
      targets(r).map((t) => [t.target, t.measured, t.verdict]),
    ),
  ];
  if (r.labs.length) {
    out.push('', '## Labs: wall time and CPU', '');
    for (const l of r.labs) {
      out.push(
        `### ${l.size} nodes`,
        '',
        labTable(l),
        '',
        `While this lab idled, the machine was busy ${fine(l.backgroundMsPerS)} per second (its daemons and whatever else runs here).`,
        '',
      );
    }
    out.push('### Ratios', '', ratioTable(r.labs));
    const withFixed = r.labs.find((l) => l.fixed);
    if (withFixed) out.push('', `## Fixed costs (${withFixed.size}-node inventory, lab node n1)`, '', fixedTable(withFixed));
  }
  if (r.agent?.length) out.push('', `## The agent on one node: ${AGENT_LINKS.join(', ')} links`, '', agentSection(r.agent));
  if (r.control) out.push('', `## The control side with ${r.control.nodes} stub nodes`, '', controlSection(r.control));
  if (r.plan) out.push('', `## Planning ${PLAN_NODES.toLocaleString('en')} nodes`, '', planTable(r.plan));
  out.push('', HOW.trim(), '');
  return out.join('\n');
}

const HOW = `
## How it is measured

- Every measured command runs under \`bench/rusage.py\`, which reports its wall time and the CPU (user + sys) of its
  whole process tree from wait4's rusage. **Control CPU** is that: rait-fleet's process, or the floor's, or Fabric's,
  Ansible's and OpenSSH's with all their children. **Nodes' CPU** is what the lab nodes spent for the run: the growth
  of their sshds' children times in /proc (every session, shell and agent a node runs is an sshd descendant that was
  waited for; 10 ms ticks per node). **Control + nodes** is what the run itself cost the machine; **machine CPU** is
  the busy time of all CPUs from /proc/stat over the run, which also counts everything else running here (the
  background line under each lab says how much that was while the lab idled).
- Rounds are interleaved: each round runs every case once, in an order rotated from round to round, so a slow spell
  of this shared machine falls on every case alike.
- Parts run in this order: planning (no lab: first, on a quiet machine), the labs, the agent, the control side. Before
  planning, the agent and control parts the bench waits (up to a minute) until the machine is busy less than 150 ms per second:
  the kernel frees the namespaces and links a part deleted in the background, on the same CPUs.
- Lab nodes are network + mount namespaces on this machine, each with its own sshd and an empty root home; they share
  its cores with the control side, so every wall time includes the nodes' own work.
- OpenSSH floor: one \`sh\` starting \`ssh -o BatchMode=yes -o ControlMaster=no … true\` to every node at once, same key.
  Stack floor: \`node dist/bench/stack-floor.js\`, our ssh2 transport to every node at once running \`true\`, bundled
  into one file as the CLI is (scripts/bundle.mjs), so that both load their code alike.
- Cold: before each run \`rait-fleet down\` and the files removed, so every node starts empty. No-op: the same deploy again.
- Fabric (\`bench/fabric_deploy.py\`) and Ansible (\`bench/ansible/deploy.yml\`) copy the very files deploy sends (plan,
  rait.conf, peers.conf, babeld.conf, the units, private key and the agent; staged by bench/stage.ts in a 0700
  directory) and run the same agent on copies of them in a private stage, as deploy's payload does. Fabric: one
  connection per node, all at once from a thread pool. Ansible: forks = nodes, pipelining on, no fact gathering,
  its default SSH ControlPersist (in its favour); it runs only on the largest lab, it takes ~25 s a run.
- WireGuard creation: every node at once starts one \`wireguard-go\` per peer the way the agent does; the slowest
  node's time. Kernel WireGuard creates a link in about a millisecond.
- Fixed costs: each command on the largest lab's inventory, against \`node -e 0\`, \`ssh n1 true\` and the stack floor
  to n1 alone.
- The agent on one node: a one-node lab whose plan adds 15, 63 or 127 peers that exist only in the plan (hosts of
  the lab's subnet nobody answers on). The agent runs in the node's namespaces (nsenter into its sshd, the node's
  PATH) with deploy's very payload on stdin; its CPU is its process tree's. Processes and programs come from
  \`strace -f\`. Step by step: a copy of the agent whose steps first record the shell's CPU so far from
  /proc/$$/stat (builtins only, no process), averaged over three times as many runs (the counters tick every 10 ms).
- The control side at scale: a lab of many nodes that are sshd plus a stub agent (a forced command in
  authorized_keys: it reads all of stdin, then prints a canned valid report made from that node's plan: an
  unchanged deploy, a healthy status with every link up). "Beyond the fixed part, / node" is (control CPU −
  control CPU of \`deploy --limit n1\`) / (nodes − 1).
- Planning (\`node dist/bench/plan.js\`, one process per run): planMesh on a 1,000-node inventory with babeld, then
  every node's links (999,000); rendering every node's files (what a deploy or status of the whole fleet does;
  \`--limit\` renders only its nodes) is timed as its own step, with the process's peak RSS after it; so is
  checking every node's key pair, which such a deploy also does before it sends a private key (the issue's
  target leaves it out). Then status's own work on the whole fleet once every node has answered: analysing
  the replies of a healthy mesh (the status tests' canned replies, test/unit/status-fixtures.ts) and printing
  the result as on a 200-column terminal.

## Running parts of it

\`npm run bench\` (as root; about 10 minutes) runs everything and rewrites this file. Parts, for a quicker look,
print their tables and leave this file alone (\`BENCH_OUT=path\` writes them there):

    BENCH_PARTS=labs,fixed,agent,control,plan   # any of them; fixed runs on the largest lab
    BENCH_SIZES=4,16        # lab sizes          BENCH_ROUNDS=7     # interleaved rounds per lab
    BENCH_ANSIBLE=1         # Ansible runs (0: none)   BENCH_CONTROL_NODES=200   # stub nodes
    BENCH_AGENT_RUNS=10     # agent runs per size      BENCH_PLAN_RUNS=3
`;
