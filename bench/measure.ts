// What one run of a command costs: its wall time, the CPU of its own process tree (bench/rusage.py:
// wait4's rusage, to the microsecond), the CPU the lab nodes spent for it (the growth of their sshds'
// children times: every session, shell and agent a node runs for the command is an sshd descendant that
// was waited for), and the CPU of the whole machine over the run (/proc/stat, which also counts
// whatever else runs on the machine).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUSAGE = fileURLToPath(new URL('../../bench/rusage.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
/** Clock ticks per second of /proc's times (USER_HZ). */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export interface Cost {
  wallMs: number;
  /** user + sys of the command's own process tree. */
  cpuMs: number;
  maxRssKiB: number;
  /** CPU the given lab nodes' sshds and their descendants spent during the run (undefined: no nodes given). */
  nodesMs?: number;
  /** Busy CPU of the whole machine over the run, every process and the kernel's own work included. */
  machineMs: number;
}

export interface Run extends Cost {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  /** PIDs of the lab nodes' sshds, whose children's CPU counts as the nodes' share of the run. */
  sshdPids?: readonly number[];
}

/** Busy time of all CPUs since boot, in ms: user, nice, system, irq, softirq and steal (guest is inside user). */
export function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * TICK_MS;
}

/** How busy the whole machine is over the next `ms`: busy CPU ms per second. */
export async function busyMsPerS(ms: number): Promise<number> {
  const before = machineBusyMs();
  await new Promise((r) => setTimeout(r, ms));
  return ((machineBusyMs() - before) * 1000) / ms;
}

/**
 * Waits (up to `maxMs`) until the whole machine is busy less than `quiet` ms per second over half a
 * second: a part that follows another runs after the kernel has freed the namespaces and links the
 * last one deleted (it does that in the background, on the same CPUs). Returns the last rate seen.
 */
export async function settle(quiet = 150, maxMs = 60_000): Promise<number> {
  const until = Date.now() + maxMs;
  for (;;) {
    const rate = await busyMsPerS(500);
    if (rate < quiet || Date.now() >= until) return rate;
  }
}

/** CPU time of a process and its waited-for descendants (utime + stime + cutime + cstime), in ms; 0 when gone. */
export function processTreeMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the parenthesised command name, which may hold spaces: state is field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Runs argv once, measured. Never throws for an exit code: the caller decides. */
export async function measure(argv: readonly string[], o: RunOptions = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'rfbench-rusage-'));
  const out = join(dir, 'cost.json');
  const nodesBefore = o.sshdPids?.map(processTreeMs);
  const machineBefore = machineBusyMs();
  try {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        PYTHON,
        [RUSAGE, out, ...argv],
        { env: { ...process.env, ...o.env }, maxBuffer: 64 << 20 },
        (_err, stdout, stderr) => resolve({ stdout, stderr }),
      );
      child.stdin?.on('error', () => {});
      child.stdin?.end(o.stdin ?? '');
    });
    const machineMs = machineBusyMs() - machineBefore;
    const nodesMs = o.sshdPids && nodesBefore ? sum(o.sshdPids.map(processTreeMs)) - sum(nodesBefore) : undefined;
    let r: { wallMs: number; userMs: number; sysMs: number; maxRssKiB: number; code: number };
    try {
      r = JSON.parse(readFileSync(out, 'utf8')) as typeof r;
    } catch {
      throw new Error(`bench/rusage.py wrote no result for ${argv.join(' ')}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    return { wallMs: r.wallMs, cpuMs: r.userMs + r.sysMs, maxRssKiB: r.maxRssKiB, nodesMs, machineMs, code: r.code, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** measure(), failing with the command's last words when its exit code is not in `ok`. */
export async function mustMeasure(argv: readonly string[], o: RunOptions & { ok?: number[] } = {}): Promise<Run> {
  const r = await measure(argv, o);
  if (!(o.ok ?? [0]).includes(r.code)) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    throw new Error(`${argv.slice(0, 4).join(' ')} … exited with ${r.code}:\n${tail}`);
  }
  return r;
}
