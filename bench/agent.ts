// The agent's own cost on one node: a no-op deploy (and a status run) with 15, 63 and 127 links,
// measured as the CPU of the agent's process tree, how many processes it starts, which programs, and
// where in the run the CPU goes, step by step.
//
// One lab node holds the links; its peers exist only in the plan: hosts in the lab's subnet that no
// node answers on (WireGuard's handshakes go out on the lab bridge and die there). The agent runs in
// the node's namespaces (nsenter into its sshd) with deploy's very payload on stdin, under
// bench/rusage.py: what the node runs for a deploy, without sshd's own session.
//
// Step by step: a copy of the agent whose main steps first record the shell's CPU so far (its own and
// its waited-for children's, from /proc/$$/stat, with builtins only: recording starts no process),
// averaged over many runs (the counters tick every 10 ms); under strace, the same copy shows which
// processes each step starts.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPayload, loadAgentScript, shellQuote } from '../src/agent/payload.js';
import { parseReport } from '../src/agent/validate.js';
import type { ApplyReport, RemoteMode } from '../src/agent/report.js';
import { labDown, labUp, type Lab } from '../src/lab/index.js';
import { nthAddress, parsePrefix } from '../src/lab/cidr.js';
import { raiseInotifyInstances, restoreInotifyInstances } from '../src/lab/inotify.js';
import { namespaceInode, namespaceNames } from '../src/lab/system.js';
import { planMesh } from '../src/mesh/plan.js';
import { loadTemplates } from '../src/mesh/templates.js';
import { openFleet } from '../src/state/fleet.js';
import { mustMeasure, type Run } from './measure.js';
import { opensshCommand } from './floors.js';
import { summarize, type Sample } from './stats.js';
import type { Teardown } from './teardown.js';

export const AGENT_LINKS = [15, 63, 127] as const;

/** The node's environment under sshd (root's PATH), not the benchmark's. */
const NODE_ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];

/** The agent's steps whose start is recorded (those it has), as main and sync_all call them. */
const STEPS = [
  'read_plan',
  'check_requirements',
  'adopt_config_dir',
  'read_old_placement',
  'check_babeld',
  'sync_files',
  'install_persistence',
  'leave_old_placement',
  'prepare_place',
  'read_facts',
  'plan_diffs',
  'check_inotify',
  'sync_link',
  'babel_forget',
  'sync_babeld',
  'sync_made',
  'record_placement',
  'record_run',
  'leave_old_config_dir',
  'report',
  'cleanup',
];
/** Segments before the agent's first step. */
export const PRELUDE = 'payload: sh reads it, mktemp, writes the files';
export const AGENT_START = 'exec sh: the agent script is read';
export const MAIN = 'main, until its first step';
const END = 'end';

export interface StepCost {
  /** The segment from this step's start to the next recorded start, over all its calls. */
  step: string;
  /** Times the step ran. */
  calls: number;
  cpuMs: number;
  /** Processes started (forks) and programs executed in it. */
  processes: number;
  execs: number;
}

export interface AgentScale {
  links: number;
  /** The agent's process tree, no-op deploy and status. */
  deploy: { cpu: Sample; wall: Sample };
  status: { cpu: Sample; wall: Sample };
  /** The node's CPU for a whole no-op `deploy --limit n1` over SSH, sshd's session included (10 ms ticks). */
  overSsh: Sample;
  /** The node's CPU for `ssh n1 true`, the same way. */
  sshTrue: Sample;
  /** Per no-op deploy: processes started (forks), and programs executed by name. */
  processes: number;
  execs: Map<string, number>;
  steps: StepCost[];
  /** Resident memory of the node's wireguard-go daemons, MiB in all. */
  wireguardGoMiB: number;
}

export interface AgentPaths {
  node: string;
  cli: string;
  work: string;
}

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

/** An inventory of the lab's node n1 and `links` peers that exist only in the plan. */
function scalingInventory(lab: Lab, links: number): string {
  const subnet = parsePrefix(lab.subnet);
  const n1 = lab.nodes[0]!;
  const lines = [
    `# rait-fleet benchmark: lab ${lab.name}'s n1 and ${links} peers that do not exist (hosts of ${lab.subnet} nobody answers on).`,
    'mesh:',
    '  babeld: { enabled: true, hello_interval: 4 }',
    'ssh:',
    `  identity_file: ${lab.keyFile}`,
    `  known_hosts: ${lab.knownHosts}`,
    '  connect_timeout: 30',
    'nodes:',
    `  n1: { host: ${n1.address}, vars: { loopback: "${n1.loopback}", loopback4: "${n1.loopback4}" } }`,
  ];
  // n1 is the subnet's first host; the peers take the next ones (the bridge has the last).
  for (let i = 1; i <= links; i++) lines.push(`  p${i}: { host: ${nthAddress(subnet, 1 + i)} }`);
  return `${lines.join('\n')}\n`;
}

const MARK = `rf_mark() { read -r rf_m_stat </proc/$$/stat; printf '%s|%s\\n' "$1" "\${rf_m_stat##*) }" >>"$RF_MARKS"; }\n`;

/** The payload with the agent's steps, and the prelude before them, recording their start (see the top). */
export function instrumented(payload: string, agent: string): string {
  let text = agent;
  const wrappers: string[] = [];
  for (const step of STEPS) {
    const def = new RegExp(`^${step}\\(\\) \\{`, 'm');
    if (!def.test(text)) continue;
    text = text.replace(def, () => `rf_orig_${step}() {`);
    // The last step (cleanup, on exit) also records its end: every segment is then a difference of two
    // readings of the same 10 ms counters (the run's precise total would add their truncation to it).
    const end = step === STEPS.at(-1) ? ` rf_s=$?; rf_mark ${END}; return $rf_s;` : '';
    wrappers.push(`${step}() { rf_mark ${step}; rf_orig_${step} "$@";${end} }`);
  }
  const main = text.lastIndexOf('\nmain "$@"');
  if (main < 0) throw new Error('the agent does not end with main "$@"');
  text = `${text.slice(0, main)}\n${MARK}${wrappers.join('\n')}\nrf_mark '${MAIN}'${text.slice(main)}`;
  const exec = '\texec sh "$rf_stage/';
  // The payload stages each file as one single-quoted word (src/agent/payload.ts).
  const staged = shellQuote(agent);
  if (!payload.includes(exec) || !payload.includes(staged)) throw new Error('unexpected payload: no staged agent to exec');
  const marked = payload.replace(staged, () => shellQuote(text)).replace(exec, () => `\trf_mark '${AGENT_START}'\n${exec}`);
  return `${MARK}rf_mark '${PRELUDE}'\n${marked}`;
}

interface Mark {
  step: string;
  ticks: number;
}

/** The marks a run recorded: step and the shell's CPU so far (utime+stime+cutime+cstime, in ticks). */
function readMarks(path: string): Mark[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [step, tail] = line.split('|') as [string, string];
      // The stat fields from the state on: utime, stime, cutime, cstime are the 12th to 15th.
      const f = tail.trim().split(/\s+/).map(Number);
      return { step, ticks: f[11]! + f[12]! + f[13]! + f[14]! };
    });
}

interface Traced {
  /** Forks and programs executed between one mark and the next, in order of the marks. */
  segments: { forks: number; execs: string[] }[];
}

/** Reads an `strace -f` log: a segment starts at each open of the marks file. */
export function straceSegments(log: string, marksFile: string): Traced {
  const segments: Traced['segments'] = [];
  let current: Traced['segments'][number] | undefined;
  const unfinished = new Map<string, string>();
  const record = (path: string): void => void current?.execs.push(path.slice(path.lastIndexOf('/') + 1));
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = m[1]!;
    let call = m[2]!;
    if (call.endsWith('<unfinished ...>')) {
      unfinished.set(pid, call.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(call);
    if (resumed) {
      call = `${unfinished.get(pid) ?? ''}${resumed[1]}`;
      unfinished.delete(pid);
    }
    if (call.startsWith('openat(') && call.includes(`"${marksFile}"`) && !/= -1/.test(call)) {
      current = { forks: 0, execs: [] };
      segments.push(current);
    } else if (/^(clone3?|v?fork)\(/.test(call) && /= \d+$/.test(call) && !call.includes('CLONE_THREAD')) {
      if (current) current.forks++;
    } else if (call.startsWith('execve(') && /= 0$/.test(call)) {
      record(/^execve\("([^"]*)"/.exec(call)?.[1] ?? '?');
    }
  }
  return { segments };
}

function strace(argv: readonly string[], stdin: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'strace',
      ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork,openat', '-e', 'signal=none', '-o', out, ...argv],
      { maxBuffer: 64 << 20 },
      (err) => (err ? reject(err) : resolve()),
    );
    child.stdin?.end(stdin);
  });
}

/** The run changed nothing (but `mayChange`, a file put back). */
function assertNoop(run: Run, links: number, mayChange?: string): void {
  const r = parseReport(run.stdout, 'deploy') as ApplyReport;
  const files = r.files.filter((f) => f.changed && f.name !== mayChange).length;
  const changes = r.links.added.length + r.links.updated.length + r.links.removed.length + files;
  if (!r.ok || changes > 0 || r.links.kept.length !== links) {
    throw new Error(`the agent's run was no no-op (${links} links): ${run.stdout.slice(0, 400)}`);
  }
}

/** Resident memory of the wireguard-go daemons in the node's network namespace, MiB. */
async function wireguardGoMiB(sshdPid: number): Promise<number> {
  const net = await namespaceInode(`/proc/${sshdPid}/ns/net`);
  let kib = 0;
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'wireguard-go') continue;
      if ((await namespaceInode(`/proc/${pid}/ns/net`)) !== net) continue;
      kib += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

/** One lab node, the agent at every size of AGENT_LINKS; `runs` measured runs of each kind per size. */
export async function benchAgent(p: AgentPaths, runs: number, teardown: Teardown): Promise<AgentScale[]> {
  // 127 wireguard-go hold an inotify instance each: raised as a lab of 12 nodes would (and put back).
  const raised = raiseInotifyInstances(12, say);
  const restore = teardown.add('inotify limit', async () => {
    const stillUp = (await namespaceNames()).filter((n) => /^rfl-.+-\d+$/.test(n)).length;
    restoreInotifyInstances(raised, stillUp, say);
  });
  const name = 'bagent';
  const lab = await labUp({ nodes: 1, name, inventory: join(p.work, `${name}.yaml`), dir: join(p.work, name), log: () => {} });
  const down = teardown.add(`lab ${name}`, async () => void (await labDown(name, lab.dir)));
  const n1 = lab.nodes[0]!;
  const marks = { inNode: '/tmp/rfbench-marks', onHost: join(n1.dir, 'tmp', 'rfbench-marks') };
  const cli = (...args: string[]) => [p.node, p.cli, ...args];
  const inNode = (mode: RemoteMode, env: string[] = []) => [
    ...['nsenter', '-t', String(n1.sshdPid), '-n', '-m', '--'],
    ...NODE_ENV,
    ...env,
    ...['sh', '-s', '--', mode],
  ];
  const out: AgentScale[] = [];
  try {
    for (const links of AGENT_LINKS) {
      const inv = join(p.work, `agent-${links}.yaml`);
      writeFileSync(inv, scalingInventory(lab, links), { mode: 0o600 });
      await mustMeasure(cli('keygen', inv));
      const created = await mustMeasure(cli('deploy', inv, '--limit', 'n1'));
      say(`agent: ${links} links made on ${name}/n1 in ${(created.wallMs / 1000).toFixed(1)} s`);
      await mustMeasure(cli('deploy', inv, '--limit', 'n1')); // anything the first left to settle (babeld)

      const { inventory, state } = await openFleet(inv, () => {});
      const plan = planMesh(inventory, state, loadTemplates(inventory));
      const np = plan.nodes.find((x) => x.node.name === 'n1')!;
      const agent = loadAgentScript();
      const payload = (mode: RemoteMode) => buildPayload(np, plan.mesh, mode, agent);

      const deploys: Run[] = [];
      const statuses: Run[] = [];
      const overSsh: number[] = [];
      const sshTrue: number[] = [];
      for (let i = 0; i < runs; i++) {
        const d = await mustMeasure(inNode('deploy'), { stdin: payload('deploy') });
        assertNoop(d, links);
        deploys.push(d);
        statuses.push(await mustMeasure(inNode('status'), { stdin: payload('status') }));
        overSsh.push((await mustMeasure(cli('deploy', inv, '--limit', 'n1'), { sshdPids: [n1.sshdPid!] })).nodesMs!);
        sshTrue.push((await mustMeasure(opensshCommand(lab, [n1], 'true'), { sshdPids: [n1.sshdPid!] })).nodesMs!);
      }

      // Step by step: the marked copy, three times as many runs for CPU (10 ms ticks), once under strace.
      const markedStdin = instrumented(payload('deploy'), agent);
      const env = [`RF_MARKS=${marks.inNode}`];
      const ticks = new Map<string, number>();
      const calls = new Map<string, number>();
      let order: string[] = [];
      // The agent installs itself beside the plan: the marked copy's first run replaces it, untimed.
      await mustMeasure(inNode('deploy', env), { stdin: markedStdin });
      for (let i = 0; i < runs * 3; i++) {
        rmSync(marks.onHost, { force: true });
        const run = await mustMeasure(inNode('deploy', env), { stdin: markedStdin });
        assertNoop(run, links);
        const m = readMarks(marks.onHost);
        if (m.at(-1)?.step !== END) throw new Error(`the marked agent did not record its end (${links} links)`);
        m.slice(0, -1).forEach(({ step, ticks: at }, k) => {
          ticks.set(step, (ticks.get(step) ?? 0) + m[k + 1]!.ticks - at);
          if (i === 0) calls.set(step, (calls.get(step) ?? 0) + 1);
        });
        if (i === 0) order = [...new Set(m.slice(0, -1).map((x) => x.step))];
      }
      rmSync(marks.onHost, { force: true });
      const log = join(p.work, `agent-${links}.strace`);
      await strace(inNode('deploy', env), markedStdin, log);
      const traced = straceSegments(readFileSync(log, 'utf8'), marks.inNode);
      const tracedMarks = readMarks(marks.onHost);
      rmSync(marks.onHost, { force: true });
      assertNoop(await mustMeasure(inNode('deploy'), { stdin: payload('deploy') }), links, 'rait-fleet-agent'); // the real agent back
      if (traced.segments.length !== tracedMarks.length) {
        throw new Error(`strace saw ${traced.segments.length} step marks, the run wrote ${tracedMarks.length}`);
      }
      const perStep = new Map<string, { forks: number; execs: number }>();
      const execs = new Map<string, number>();
      tracedMarks.forEach(({ step }, k) => {
        const seg = traced.segments[k]!;
        const s = perStep.get(step) ?? { forks: 0, execs: 0 };
        perStep.set(step, { forks: s.forks + seg.forks, execs: s.execs + seg.execs.length });
        for (const prog of seg.execs) execs.set(prog, (execs.get(prog) ?? 0) + 1);
      });
      const steps = order.map((step) => ({
        step,
        calls: calls.get(step) ?? 0,
        cpuMs: ((ticks.get(step) ?? 0) * 10) / (runs * 3),
        processes: perStep.get(step)?.forks ?? 0,
        execs: perStep.get(step)?.execs ?? 0,
      }));
      const scale: AgentScale = {
        links,
        deploy: { cpu: summarize(deploys.map((r) => r.cpuMs)), wall: summarize(deploys.map((r) => r.wallMs)) },
        status: { cpu: summarize(statuses.map((r) => r.cpuMs)), wall: summarize(statuses.map((r) => r.wallMs)) },
        overSsh: summarize(overSsh),
        sshTrue: summarize(sshTrue),
        processes: traced.segments.reduce((n, s) => n + s.forks, 0),
        execs,
        steps,
        wireguardGoMiB: await wireguardGoMiB(n1.sshdPid!),
      };
      out.push(scale);
      say(
        `agent, ${links} links: no-op deploy ${scale.deploy.cpu.median.toFixed(1)} ms CPU, ${scale.processes} processes; ` +
          `status ${scale.status.cpu.median.toFixed(1)} ms`,
      );
      await mustMeasure(cli('down', inv, '--limit', 'n1'));
    }
  } finally {
    await down();
    await restore();
  }
  return out;
}
