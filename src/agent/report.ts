/**
 * What the node agent (rait-fleet-agent, docs/agent-protocol.md) prints: exactly one JSON document on
 * stdout. Replies come from remote machines and are untrusted: parse them with parseReport() (validate.ts).
 */
import { NODE_FILES } from '../mesh/types.js';

/**
 * What the agent does: the first four, confirm and rollback over SSH; apply (boot, heal: see
 * persist.sh) and pull (pull.sh) on the node alone. confirm and rollback act on the snapshot a
 * deploy kept (rollback.sh, docs/agent-protocol.md).
 */
export type AgentMode = 'deploy' | 'check' | 'down' | 'status' | 'apply' | 'pull' | 'confirm' | 'rollback';
/** The modes rait-fleet runs over SSH. */
export type RemoteMode = Exclude<AgentMode, 'apply' | 'pull'>;
export type WireGuardImpl = 'kernel' | 'wireguard-go';

export interface LinkChanges {
  added: string[];
  updated: string[];
  removed: string[];
  kept: string[];
  /** Links that could not be made right, each with its reason; the others were still synced. */
  failed: LinkFailure[];
}

export interface LinkFailure {
  name: string;
  error: string;
}

/** Files a deploy installs on a node: the plan's files and the agent itself (beside the plan). */
export const INSTALLED_FILES = [...NODE_FILES, 'rait-fleet-agent'] as const;

export interface FileChange {
  name: (typeof INSTALLED_FILES)[number];
  changed: boolean;
  /** check mode only: unified diff (old -> new), private key redacted. */
  diff?: string;
}

/**
 * What was done to babeld: started | updated (interfaces added/flushed over its socket) | restarted
 * (no socket client, or the links moved to another namespace) | stopped (down left it no interface, or
 * babeld was turned off)
 * | unchanged | not-running (down) | disabled; check mode says what it would do with "would-".
 */
export const BABELD_ACTIONS = [
  'started',
  'updated',
  'restarted',
  'stopped',
  'unchanged',
  'not-running',
  'disabled',
  'would-started',
  'would-updated',
  'would-restarted',
  'would-stopped',
] as const;
export type BabeldAction = (typeof BABELD_ACTIONS)[number];

/** babeld was (or would be) changed by the run. */
export const babeldChanged = (action: BabeldAction): boolean => !['unchanged', 'disabled', 'not-running'].includes(action);

/** Result of deploy, check (dry run) and down. */
/** How the mesh comes back on a node after a reboot: systemd units the agent installed, or nothing. */
export type PersistenceVia = 'systemd' | 'none';

/** How a node's dead-man switch runs: a transient systemd timer, a detached process, or none (snapshot only). */
export const SWITCH_KINDS = ['systemd', 'process', 'none'] as const;
export type SwitchKind = (typeof SWITCH_KINDS)[number];

export interface ApplyReport {
  agent: 1;
  mode: 'deploy' | 'check' | 'down' | 'apply' | 'pull';
  ok: boolean;
  /** Set when ok is false: what failed, in plain words (names the missing program and package). */
  error?: string;
  wireguard?: WireGuardImpl;
  /** deploy and check: what brings the mesh back after a reboot. */
  persistence?: PersistenceVia;
  files: FileChange[];
  links: LinkChanges;
  babeld: BabeldAction;
  /** What a person should know that is no failure, e.g. a sysctl the agent raised. */
  notes: string[];
  /** deploy with a snapshot id: the node kept what the deploy replaced under this id (it changed something). */
  snapshot?: string;
  /** ... and the switch that restores it unless confirmed. */
  switch?: SwitchKind;
}

/**
 * confirm: confirmed (the switch is disarmed), absent (no snapshot of that id: the deploy changed
 * nothing here), rolled-back (already restored), rolling-back (a restore is running).
 */
export const CONFIRM_STATES = ['confirmed', 'absent', 'rolled-back', 'rolling-back'] as const;
export type ConfirmState = (typeof CONFIRM_STATES)[number];

export interface ConfirmReport {
  agent: 1;
  mode: 'confirm';
  ok: boolean;
  error?: string;
  /** The deploy id; missing only when ok is false. */
  snapshot?: string;
  /** Missing only when ok is false. */
  state?: ConfirmState;
}

/** Who restored a snapshot: the control machine (rollback over SSH), the node's switch, or nobody (nothing to restore). */
export const ROLLBACK_BY = ['control', 'switch', 'none'] as const;
export type RollbackBy = (typeof ROLLBACK_BY)[number];

export interface RollbackReport {
  agent: 1;
  mode: 'rollback';
  ok: boolean;
  error?: string;
  /** The deploy id; missing only when ok is false. */
  snapshot?: string;
  by: RollbackBy;
  /** previous: the plan before the deploy applied again; down: the node had none, its links went. */
  restored: 'previous' | 'down' | 'none';
  /** The restoring run's own report (a deploy or a down); null when nothing was restored. */
  report: ApplyReport | null;
}

export interface LinkState {
  name: string;
  /** Peer public key, as configured on the interface. */
  publicKey: string;
  listenPort: number;
  /** host:port as wg reports it, or "" when none. */
  endpoint: string;
  /** Seconds since the latest handshake; null when there was none. */
  handshakeAge: number | null;
  rxBytes: number;
  txBytes: number;
  mtu: number;
  up: boolean;
}

export interface BabelNeighbour {
  interface: string;
  address: string;
  rxcost: number;
  txcost: number;
  /** What babeld routes by: the link cost from rxcost and txcost plus the rtt penalty (65535: unreachable). */
  cost: number;
  /** milliseconds; null when babeld does not report it. */
  rtt: number | null;
  reach: string;
}

export interface StatusReport {
  agent: 1;
  mode: 'status';
  ok: boolean;
  error?: string;
  wireguard?: WireGuardImpl;
  versions: { wg: string; babeld: string; kernel: string };
  /** sha256 (hex) of each config file found in config_dir (and babeld config path), by name. */
  configHashes: Record<string, string>;
  links: LinkState[];
  /** Why the last deploy could not make these links right, by interface name. */
  linkErrors: Record<string, string>;
  babel: {
    running: boolean;
    /** sha256 of the config the agent's babeld runs; null when babeld is not the agent's or not running. */
    configHash: string | null;
    neighbours: BabelNeighbour[];
    routes: number;
  };
  persistence: NodePersistence;
  /** Pull mode: the registry the node runs and its last pull; absent when the node is not enrolled. */
  pull?: NodePull;
}

/** What a node enrolled in pull mode says of its registry (docs/pull-mode.md). */
export interface NodePull {
  /** The serial of the registry it runs, its publication and expiry (unix seconds); null before the first. */
  serial: number | null;
  published: number | null;
  expires: number | null;
  /** When it last tried to pull (unix seconds); null when never. */
  lastAttempt: number | null;
  /** Why that pull changed nothing ("" when it went well). */
  lastError: string;
}

/** What a node does on its own: the units that apply its plan at boot and heal it, and its recent runs. */
export interface NodePersistence {
  via: PersistenceVia;
  /** The boot unit is enabled. */
  enabled: boolean;
  /** When apply last ran on the node alone (unix seconds), and why; null when never. */
  lastRun: number | null;
  lastKind: 'boot' | 'heal' | 'manual' | 'pull' | null;
  /** Heals in the last 24 h that had to make or fix links: more than one means something keeps breaking. */
  healsChanged: number;
  /** The links the last such heal made or fixed, comma-separated. */
  lastHealChange: string;
}

export type AgentReport = ApplyReport | StatusReport | ConfirmReport | RollbackReport;
