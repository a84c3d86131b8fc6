/**
 * The health of the mesh as `rait-fleet status` reports it: the plan compared with what the nodes say.
 * Plain data (what --json prints); never holds keys or anything else secret.
 */
import type { NodePersistence, StatusReport } from '../agent/report.js';
import type { AddressFamily } from '../inventory/types.js';

/** Why a planned link is not up, as data (faults.ts puts it into words). */
export type Fault =
  | { kind: 'missing' }
  | { kind: 'wrong-peer-key'; actual: string; planned: string }
  | { kind: 'wrong-listen-port'; actual: number; planned: number }
  | { kind: 'down' }
  /** age: seconds since the latest handshake; null when there was none. */
  | { kind: 'no-handshake'; age: number | null }
  | { kind: 'no-neighbour'; babeldRunning: boolean }
  /** The last deploy could not make the link right; reason: the agent's words (e.g. a name that does not resolve). */
  | { kind: 'failed'; reason: string };

export type FaultKind = Fault['kind'];

/** What the control machine got back from one node. */
export type NodeProbe =
  | { kind: 'report'; report: StatusReport }
  /** unreachable: SSH never got through (refused, timeout); failed: anything after that (auth, agent crash). */
  | { kind: 'unreachable' | 'failed'; reason: string };

/**
 * State of the interface on `from` towards `to`, as seen on `from`:
 * - up: handshake within HANDSHAKE_FRESH_SECONDS and (when babeld is enabled) a babel neighbour on it;
 * - stale: the interface is there but one of those is not, or its config differs from the plan;
 * - missing: the plan wants it, the node has no such interface;
 * - not-expected: no link planned (the same node, or another address family);
 * - unknown: `from` did not report.
 */
export type LinkStatus = 'up' | 'stale' | 'missing' | 'not-expected' | 'unknown';

/**
 * One planned link as seen on `from` (a pair of dual-stack nodes has one per family they share), or the
 * one cell of a pair that has none (not-expected).
 */
export interface LinkHealth {
  from: string;
  to: string;
  /** The link's underlay family, when a link is planned. */
  family?: AddressFamily;
  status: LinkStatus;
  /**
   * The two ends of the pair are broken differently: one is up, or at least configured as planned,
   * and the other is not (set on both directions; `endRank` in faults.ts tells which end works).
   */
  oneSided: boolean;
  /** Planned interface name on `from`, when a link is planned. */
  interface?: string;
  /** Seconds since the latest handshake, when the interface exists (null: none yet). */
  handshakeAge?: number | null;
  /** Why the link is stale or missing: for scripts, and in plain words. */
  fault?: FaultKind;
  reason?: string;
}

export interface DriftedFile {
  name: string;
  /** differs: hash differs from the plan's; missing: the node has no such file. */
  change: 'differs' | 'missing';
}

export interface NodeHealth {
  node: string;
  /** SSH got through (the agent may still have failed: see error). */
  reachable: boolean;
  /** Links of this node whose status is up; null when the node did not report. */
  linksUp: number | null;
  linksExpected: number;
  babelNeighbours: number | null;
  routes: number | null;
  /** Deployed files differ from the plan (or managed interfaces exist that the plan does not have). */
  drift: boolean;
  driftedFiles: DriftedFile[];
  /** Managed interfaces on the node that the plan does not have. */
  extraInterfaces: string[];
  /** babeld runs another config than the deployed one (a deploy restarts it). */
  babeldStale: boolean;
  /** Links the last deploy could not make right, with the agent's reason. */
  linkErrors: { interface: string; peer?: string; reason: string }[];
  /** What brings the node's mesh back after a reboot, and what it did on its own; null when it did not report. */
  persistence: NodePersistence | null;
  /** Pull mode: the registry the node runs; null when the mesh is not in pull mode or the node did not report. */
  registry: NodeRegistry | null;
  error?: string;
}

/** The registry a node in pull mode runs (docs/pull-mode.md). */
export interface NodeRegistry {
  /** Its serial; null before the node accepted one. */
  serial: number | null;
  /** Seconds since it was published. */
  age: number | null;
  /** What is wrong: behind the newest published, expired, not enrolled — in words, with the fix. */
  problem?: string;
}

export interface MeshHealth {
  healthy: boolean;
  /** 0 healthy, 1 degraded: the process exit code. */
  exitCode: 0 | 1;
  handshakeFreshSeconds: number;
  babeld: boolean;
  /** Reported (selected) nodes, in plan order. */
  nodes: NodeHealth[];
  /** Matrix columns: every node of the plan, in plan order (rows are `nodes`). */
  peers: string[];
  /** One entry per planned link of a row node (by column, then family), or one for a cell without a link; row-major. */
  links: LinkHealth[];
  /** Plain-language problems, each with its likely fix. */
  problems: string[];
  /** A deploy of this fleet was running (it held the state lock): links may be changing. */
  deployInProgress?: { pid: number };
  /** Pull mode: the newest registry serial publish wrote (0: none yet). */
  publishedSerial?: number;
}

/** One status round: the analysis, what each node said, and how long asking and analysing took. */
export interface StatusRound {
  health: MeshHealth;
  probes: ReadonlyMap<string, NodeProbe>;
  seconds: number;
}
