// One node's part of a command: connect, send the agent and its plan, read its report.
// Shared by deploy, down and status so every command talks to nodes the same way.
import type { MeshSettings, Node } from '../inventory/types.js';
import type { NodePlan, Plan } from '../mesh/types.js';
import type { RemoteMode, AgentReport, ApplyReport, ConfirmReport, RollbackReport, StatusReport } from '../agent/report.js';
import { agentCommand, buildPayload, loadAgentScript, type SnapshotArgs } from '../agent/payload.js';
import { parseReport, printable } from '../agent/validate.js';
import { closeAll, connect, isSudoPasswordError, isUnreachable, loadCredentials, targetOf } from '../ssh/index.js';
import { runFleet, type TaskResult, type OutputMode } from './fleet.js';

interface AgentRunOptions {
  verbose: boolean;
  setStep: (step: string) => void;
  /** Receives the agent's stderr (its `[#] command` trace in verbose mode). */
  onLog?: (text: string) => void;
  /** Bounds the agent's own run once connected. */
  timeoutMs?: number;
  snapshot?: SnapshotArgs;
}

const STEP: Record<RemoteMode, string> = {
  deploy: 'applying plan',
  check: 'comparing with plan',
  down: 'removing links',
  status: 'reading status',
  confirm: 'confirming',
  rollback: 'rolling back',
};

/** Failures after the connection was made: the agent may have run, and changed the node, before it. */
const afterConnect = new WeakSet<Error>();

/** The node was reached and the agent may have run (and changed things) before this failure. */
export const agentMayHaveRun = (error: Error): boolean => afterConnect.has(error);

/** The session ended before the agent's exit status came: the node may be cut off mid-run. */
class SessionLost extends Error {}

/**
 * The agent may have run and its session was lost on the way (no exit status, a timeout, a broken
 * connection): unlike an agent that answered, however badly, nothing says what the node is left with.
 */
export const sessionLost = (error: Error): boolean => agentMayHaveRun(error) && (error instanceof SessionLost || isUnreachable(error));

let agentScript: string | undefined;

/** Runs the agent in `mode` on one node and returns its validated report. */
async function runAgent(np: NodePlan, mesh: MeshSettings, mode: RemoteMode, o: AgentRunOptions): Promise<AgentReport> {
  agentScript ??= loadAgentScript();
  o.setStep('connecting');
  const conn = await connect(np.node);
  try {
    o.setStep(STEP[mode]);
    const res = await conn.exec(
      agentCommand(mode, { verbose: o.verbose, become: np.node.ssh.become, snapshot: o.snapshot }),
      buildPayload(np, mesh, mode, agentScript),
      { timeoutMs: o.timeoutMs ?? 300_000 },
    );
    if (res.stderr && o.onLog) o.onLog(printable(res.stderr));
    if (np.node.ssh.become && isSudoPasswordError(res.stderr)) {
      throw new Error(`sudo on ${np.node.host} wants a password; allow passwordless sudo for ${np.node.ssh.user} or set become: false`);
    }
    if (res.code === null) {
      throw new SessionLost(
        `no exit status from the agent (the connection was lost, or the agent killed): ${excerpt(res.stderr || res.stdout)}`,
      );
    }
    if (res.code !== 0) {
      throw new Error(`agent exited with code ${res.code}: ${excerpt(res.stderr || res.stdout)}`);
    }
    return parseReport(res.stdout, mode);
  } catch (e) {
    if (e instanceof Error) afterConnect.add(e);
    throw e;
  } finally {
    conn.close();
  }
}

/** The last lines of the agent's untrusted output, short and printable. */
function excerpt(text: string): string {
  const lines = printable(text.trim()).split('\n');
  const last = lines.slice(-3).join(' | ');
  return last.length > 300 ? `${last.slice(0, 300)}…` : last || '(no output)';
}

export interface FleetAgentOptions {
  forks: number;
  output: OutputMode;
  verbose: boolean;
  /** Where the agent's `[#] command` trace goes in verbose mode. */
  log: (line: string) => void;
  timeoutMs?: number;
  /** deploy: keep a snapshot (and arm a switch); confirm, rollback: the snapshot to act on. */
  snapshot?: SnapshotArgs;
  /** The progress title; the mode by default. */
  title?: string;
}

/** Runs the agent in `mode` on every selected node in parallel; plans come from the whole mesh. */
export async function runAgentOnFleet(
  plan: Plan,
  selected: Node[],
  mode: 'status',
  o: FleetAgentOptions,
): Promise<Map<string, TaskResult<StatusReport>>>;
export async function runAgentOnFleet(
  plan: Plan,
  selected: Node[],
  mode: 'deploy' | 'check' | 'down',
  o: FleetAgentOptions,
): Promise<Map<string, TaskResult<ApplyReport>>>;
export async function runAgentOnFleet(
  plan: Plan,
  selected: Node[],
  mode: 'confirm',
  o: FleetAgentOptions,
): Promise<Map<string, TaskResult<ConfirmReport>>>;
export async function runAgentOnFleet(
  plan: Plan,
  selected: Node[],
  mode: 'rollback',
  o: FleetAgentOptions,
): Promise<Map<string, TaskResult<RollbackReport>>>;
export async function runAgentOnFleet(
  plan: Plan,
  selected: Node[],
  mode: RemoteMode,
  o: FleetAgentOptions,
): Promise<Map<string, TaskResult<AgentReport>>> {
  const byName = new Map(plan.nodes.map((np) => [np.node.name, np]));
  const title = o.title ?? (mode === 'check' ? 'deploy --check' : mode);
  // Ask for key passphrases before the progress display takes the terminal; they are cached per
  // key file. The files are the ones connect will use (ssh_config's IdentityFile included). A key or
  // an ssh_config that fails here fails again, with its node, inside the run.
  const keySets = new Map<string, string[]>();
  for (const n of selected) {
    try {
      const files = targetOf(n).identityFiles;
      keySets.set(files.join('\0'), files);
    } catch {
      // reported by its node
    }
  }
  for (const files of keySets.values()) await loadCredentials(files).catch(() => undefined);
  try {
    return await runFleet(selected, { forks: o.forks, output: o.output, title }, async (node, setStep) => {
      const np = byName.get(node.name);
      if (!np) throw new Error(`no plan for ${node.name}`);
      const onLog = o.verbose
        ? (text: string) =>
            text
              .split('\n')
              .filter(Boolean)
              .forEach((l) => o.log(`[${node.name}] ${l}`))
        : undefined;
      // parseReport checked the reply against `mode`; the overloads above give callers its type.
      return runAgent(np, plan.mesh, mode, { verbose: o.verbose, setStep, onLog, timeoutMs: o.timeoutMs, snapshot: o.snapshot });
    });
  } finally {
    closeAll();
  }
}
