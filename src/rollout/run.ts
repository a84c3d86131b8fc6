// deploy, made safe: in batches with a health gate after each (--serial), and confirmed over new SSH
// connections, every node of a batch rolled back when one of them cannot be (--confirm-timeout). The
// imperative shell around batches.ts and gate.ts; the node's side is rollback.sh.
import { randomBytes } from 'node:crypto';
import type { Node } from '../inventory/types.js';
import type { Plan } from '../mesh/types.js';
import type { ApplyReport, RollbackBy } from '../agent/report.js';
import { agentMayHaveRun, runAgentOnFleet, sessionLost } from '../run/agent-task.js';
import { runFleet, type OutputMode, type TaskResult } from '../run/fleet.js';
import { outcomeOf, allSucceeded, type NodeOutcome } from '../run/outcome.js';
import { collectStatus } from '../status/collect.js';
import { analyzeMesh } from '../status/analyze.js';
import { connect, isUnreachable } from '../ssh/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_ROLLED_BACK } from '../errors.js';
import { batchesOf, formatAmount, tooManyFailed, type Amount } from './batches.js';
import { gatedLinks, gateVerdict, type GateFailure, type GateRound } from './gate.js';

export interface RolloutOptions {
  /** Batch sizes (--serial); none: one batch of every selected node, and no gate. */
  serial?: Amount[];
  /** Failed nodes a batch may have without stopping the rollout (--max-fail). */
  maxFail: Amount;
  gateTimeoutS: number;
  /** Seconds a node's switch waits for the confirmation (beyond the gate's timeout); 0: no switch, nothing confirmed. */
  confirmTimeoutS: number;
}

export interface RolloutContext {
  forks: number;
  output: OutputMode;
  verbose: boolean;
  /** Progress and the agents' traces (stderr). */
  log: (line: string) => void;
}

export interface GateReport {
  batch: number;
  passed: boolean;
  seconds: number;
  /** Links checked. */
  links: number;
  failing: GateFailure[];
}

/** One node of a stopped batch, rolled back or not: by whom, and whether its restore is known to have worked. */
export interface RollbackEntry {
  node: string;
  by: RollbackBy | 'unknown';
  ok: boolean;
  error?: string;
}

/** What --json says of the rollout (and the text summary puts in words). */
export interface RolloutReport {
  /** The deploy id the nodes keep their snapshots under. */
  id: string;
  batches: string[][];
  gates: GateReport[];
  stopped?: { batch: number; reason: string };
  rolledBack: RollbackEntry[];
}

export interface RolloutResult {
  outcomes: NodeOutcome[];
  report: RolloutReport;
  exitCode: number;
}

/** Between two status rounds of a gate. */
const GATE_POLL_MS = 2000;
/** Between two attempts to reach a node whose switch is due to restore it. */
const SWITCH_POLL_MS = 2000;
/** How long after its switch was due a node may take to restore itself and answer. */
const SWITCH_GRACE_MS = 45_000;

/** Sortable and unique: the UTC time of the deploy and 32 random bits (a systemd unit name and a directory on the nodes). */
export function deployId(now = new Date(), random = randomBytes(4).toString('hex')): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${random}`;
}

export async function runRollout(plan: Plan, selected: Node[], opts: RolloutOptions, ctx: RolloutContext): Promise<RolloutResult> {
  const id = deployId();
  const gated = opts.serial !== undefined;
  // A node's switch waits for its batch's gate too: the confirmation comes after it.
  const switchSeconds = opts.confirmTimeoutS === 0 ? 0 : opts.confirmTimeoutS + (gated ? opts.gateTimeoutS : 0);
  // Without a gate and without a switch nothing can be rolled back: the nodes keep no snapshot.
  const snapshot = gated || switchSeconds > 0 ? { id, switchSeconds } : undefined;
  const batches = gated ? batchesOf(selected, opts.serial!) : [selected];
  const report: RolloutReport = { id, batches: batches.map((b) => b.map((n) => n.name)), gates: [], rolledBack: [] };
  const outcomes = new Map<string, NodeOutcome>();
  const deployed = new Set<string>();
  const fleet = { forks: ctx.forks, output: ctx.output, verbose: ctx.verbose, log: ctx.log };

  for (const [i, batch] of batches.entries()) {
    if (gated) ctx.log(`batch ${i + 1} of ${batches.length}: ${names(batch)}`);
    const answered = snapshot ? await answeringThroughJumps(batch, ctx.forks) : new Set<string>();
    const results = await runAgentOnFleet(plan, batch, 'deploy', { ...fleet, snapshot });
    const deployedAt = Date.now();
    for (const n of batch) outcomes.set(n.name, outcomeOf(n.name, results.get(n.name)!));
    // The nodes this deploy may have changed: those that say they kept a snapshot, and those whose
    // session was lost while their agent may have been at work. And the nodes it may have cut off:
    // reached through a jump host just before, unreachable during it.
    const touched = snapshot
      ? batch.filter((n) => mayHaveChanged(results.get(n.name)!, id) || cutOff(results.get(n.name)!, answered.has(n.name)))
      : [];
    let stop: string | undefined;
    if (gated) {
      const gate = await runGate(plan, batch, deployed, outcomes, opts.gateTimeoutS, ctx);
      report.gates.push({ batch: i + 1, ...gate });
      if (!gate.passed) ctx.log(`gate of batch ${i + 1}: ${gate.failing.map((f) => `${f.node}: ${f.reasons.join('; ')}`).join(' — ')}`);
      if (tooManyFailed(gate.failing.length, batch.length, opts.maxFail)) {
        stop = `the gate of batch ${i + 1} failed on ${gate.failing.map((f) => f.node).join(', ')} (${gate.failing.length} of ${batch.length}; --max-fail ${formatAmount(opts.maxFail)})`;
      }
    }
    if (stop === undefined && touched.length > 0) {
      const unconfirmed = await confirm(plan, touched, results, id, fleet);
      if (unconfirmed.length > 0) {
        const why = unconfirmed.map(([node, reason]) => `${node} could not be confirmed: ${reason}`).join('; ');
        if (opts.confirmTimeoutS > 0) stop = why;
        else ctx.log(`${why} (no switch: --confirm-timeout 0; the next deploy of it takes its snapshot over)`);
      }
    }
    if (stop !== undefined) {
      report.stopped = { batch: i + 1, reason: stop };
      ctx.log(`rolling back ${touched.length ? names(touched) : 'nothing'}: ${stop}`);
      const switchDue = opts.confirmTimeoutS > 0 ? deployedAt + switchSeconds * 1000 : undefined;
      report.rolledBack = await rollBack(plan, touched, id, switchDue, fleet, ctx.log);
      for (const entry of report.rolledBack) outcomes.set(entry.node, rolledBackOutcome(outcomes.get(entry.node)!, entry, stop));
      for (const later of batches.slice(i + 1).flat()) outcomes.set(later.name, { node: later.name, result: 'skipped', ms: 0 });
      break;
    }
    for (const n of batch) deployed.add(n.name);
  }

  const all = selected.map((n) => outcomes.get(n.name)!);
  const exitCode = report.stopped
    ? report.rolledBack.every((e) => e.ok)
      ? EXIT_ROLLED_BACK
      : EXIT_FAILED
    : allSucceeded(all)
      ? EXIT_OK
      : EXIT_FAILED;
  return { outcomes: all, report, exitCode };
}

/**
 * Its agent said it kept a snapshot of this deploy (also in a reply that is not ok), or its session
 * was lost mid-run. An agent that crashed or answered garbage is a failed node, as without a
 * rollout: not confirmed, so a switch it had armed restores it.
 */
function mayHaveChanged(result: TaskResult<ApplyReport>, id: string): boolean {
  return result.ok ? result.value.snapshot === id : sessionLost(result.error);
}

/**
 * The nodes of the batch reached through a jump host that answer now, before any of the batch
 * changes: their path may run over the mesh, so the batch's own change can cut them off while their
 * connection is still being made (another node's first change comes within a second).
 */
async function answeringThroughJumps(batch: Node[], forks: number): Promise<Set<string>> {
  const behindJumps = batch.filter((n) => n.ssh.jump !== undefined);
  const results = await runFleet(behindJumps, { forks, output: 'json', title: 'reach' }, async (n) => (await connect(n)).close());
  return new Set([...results].filter(([, r]) => r.ok).map(([name]) => name));
}

/** It answered before the batch and not during it: the batch may have cut it off. */
function cutOff(result: TaskResult<ApplyReport>, answeredBefore: boolean): boolean {
  return answeredBefore && !result.ok && isUnreachable(result.error);
}

const names = (nodes: Node[]): string => nodes.map((n) => n.name).join(', ');

type Fleet = Parameters<typeof runAgentOnFleet>[3];

/**
 * Asks each node over a new connection (runAgentOnFleet opens its own, jump hosts included: the
 * deploy's were closed when it ended) to confirm; returns those that could not be, with why.
 */
async function confirm(plan: Plan, nodes: Node[], deploy: Map<string, TaskResult<ApplyReport>>, id: string, fleet: Fleet) {
  const results = await runAgentOnFleet(plan, nodes, 'confirm', { ...fleet, snapshot: { id } });
  const unconfirmed: [string, string][] = [];
  for (const n of nodes) {
    const r = results.get(n.name)!;
    const armed = deploy.get(n.name)!.ok;
    let why: string | undefined;
    if (!r.ok) why = r.error.message;
    else if (!r.value.ok) why = r.value.error ?? 'the agent failed';
    else if (r.value.state === 'rolled-back' || r.value.state === 'rolling-back') why = 'its switch had already rolled it back';
    else if (r.value.state === 'absent' && armed) why = `it no longer has the snapshot of deploy ${id}`;
    if (why !== undefined) unconfirmed.push([n.name, why]);
  }
  return unconfirmed;
}

/**
 * Every node of the batch back to what it had: rolled back over SSH where it answers; where it does
 * not, its own switch does it when due, and the node is asked again until it answers (its restore's
 * report says so) or the switch is long overdue.
 */
async function rollBack(
  plan: Plan,
  nodes: Node[],
  id: string,
  switchDue: number | undefined,
  fleet: Fleet,
  log: (line: string) => void,
): Promise<RollbackEntry[]> {
  const entries = new Map<string, RollbackEntry>();
  let pending = nodes;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, SWITCH_POLL_MS));
    const results = await runAgentOnFleet(plan, pending, 'rollback', {
      ...fleet,
      snapshot: { id },
      output: attempt ? 'json' : fleet.output,
    });
    const waiting = switchDue !== undefined && Date.now() < switchDue + SWITCH_GRACE_MS;
    const next: Node[] = [];
    for (const n of pending) {
      const r = results.get(n.name)!;
      if (r.ok) {
        const restore = r.value.report;
        const failed = restore?.links.failed.map((f) => `${f.name}: ${f.error}`) ?? [];
        const error = r.value.error ?? restore?.error ?? (failed.length ? `links failed: ${failed.join('; ')}` : undefined);
        entries.set(n.name, { node: n.name, by: r.value.by, ok: r.value.ok && error === undefined, ...(error && { error }) });
      } else if (waiting && (isUnreachable(r.error) || agentMayHaveRun(r.error))) {
        next.push(n);
      } else {
        const error = switchDue === undefined ? `${r.error.message} (no switch: --confirm-timeout 0)` : r.error.message;
        entries.set(n.name, { node: n.name, by: 'unknown', ok: false, error });
      }
    }
    if (attempt === 0 && next.length > 0) {
      log(
        `${names(next)}: not reachable; ${next.length === 1 ? 'its switch restores it' : 'their switches restore them'} by ${new Date(switchDue!).toLocaleTimeString()}, waiting to hear back`,
      );
    }
    pending = next;
  }
  return nodes.map((n) => entries.get(n.name)!);
}

function rolledBackOutcome(deployed: NodeOutcome, entry: RollbackEntry, why: string): NodeOutcome {
  if (!entry.ok) return { ...deployed, result: 'failed', error: `not rolled back (${why}): ${entry.error}` };
  // The deploy had changed nothing there after all.
  if (entry.by === 'none') return deployed;
  const by = entry.by === 'switch' ? 'by its own switch' : 'by rait-fleet';
  return { ...deployed, result: 'rolled-back', error: `rolled back ${by}: ${why}` };
}

/** Status rounds until the batch's links work, or the gate's time is up. */
async function runGate(
  plan: Plan,
  batch: Node[],
  deployed: ReadonlySet<string>,
  outcomes: ReadonlyMap<string, NodeOutcome>,
  timeoutS: number,
  ctx: RolloutContext,
): Promise<Omit<GateReport, 'batch'>> {
  const started = Date.now();
  const round = async (nodes: Node[]): Promise<GateRound> => {
    const probes = await collectStatus(plan, nodes, { forks: ctx.forks, output: 'json', verbose: false, log: ctx.log });
    return {
      health: analyzeMesh(
        plan,
        nodes.map((n) => n.name),
        probes,
      ),
      probes,
    };
  };
  const everyone = plan.nodes.map((np) => np.node);
  const first = await round(everyone);
  const batchNames = batch.map((n) => n.name);
  const links = gatedLinks(batchNames, deployed, first.health);
  const deployFailed = new Map(
    batch
      .map((n) => outcomes.get(n.name)!)
      .filter((o) => o.result === 'failed' || o.result === 'unreachable')
      .map((o) => [o.node, o.error ?? o.result] as const),
  );
  const ends = new Set([...batchNames, ...links.map((l) => l.peer)]);
  const asked = everyone.filter((n) => ends.has(n.name));
  ctx.log(`gate: ${links.length} link${links.length === 1 ? '' : 's'} of ${names(batch)} to check, for up to ${timeoutS} s`);
  const input = { batch: batchNames, links, deployFailed, first, babeld: plan.mesh.babeld.enabled };
  let verdict = gateVerdict({ ...input, now: first });
  // A failed deploy never passes; there is nothing to wait for once only those are left.
  const waitable = (): boolean => verdict.failing.some((f) => !deployFailed.has(f.node));
  while (!verdict.passed && waitable() && Date.now() - started < timeoutS * 1000) {
    await new Promise((r) => setTimeout(r, GATE_POLL_MS));
    verdict = gateVerdict({ ...input, now: await round(asked) });
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  ctx.log(`gate ${verdict.passed ? 'passed' : 'failed'} in ${seconds} s`);
  return { passed: verdict.passed, seconds, links: links.length, failing: verdict.failing };
}
