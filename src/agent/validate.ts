/**
 * The agent's reply comes from a remote machine: check every field before anyone uses it.
 * parseReport() returns a freshly built report holding only the known fields.
 */
import {
  BABELD_ACTIONS,
  CONFIRM_STATES,
  INSTALLED_FILES,
  ROLLBACK_BY,
  SWITCH_KINDS,
  type AgentMode,
  type AgentReport,
  type ApplyReport,
  type BabelNeighbour,
  type ConfirmReport,
  type FileChange,
  type LinkChanges,
  type LinkFailure,
  type LinkState,
  type NodePersistence,
  type NodePull,
  type PersistenceVia,
  type RollbackReport,
  type StatusReport,
  type WireGuardImpl,
} from './report.js';

export const MAX_REPLY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 120;
const MAX_ERROR_CHARS = 500;

/** Terminal control characters (C0 but tab and newline, DEL, C1): a node must not drive our terminal. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Untrusted text made safe to print: control characters become "?"; tabs and newlines stay. */
export function printable(text: string): string {
  return text.replace(CONTROL, '?');
}

/** A short, printable, single-line piece of untrusted text for an error message. */
function excerpt(text: string): string {
  const flat = printable(text.trim()).replace(/[\t\n]/g, ' ');
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

class ReplyError extends Error {
  constructor(path: string, expected: string, got: unknown) {
    super(`agent reply: ${path}: expected ${expected}, got ${shown(got)}`);
  }
}

/** What a node sent instead, briefly; collections are only named (they may be nested beyond any stack). */
function shown(got: unknown): string {
  if (got === undefined) return 'nothing';
  if (Array.isArray(got)) return `an array of ${got.length}`;
  if (typeof got === 'object' && got !== null) return 'an object';
  return excerpt(JSON.stringify(got));
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ReplyError(path, 'an object', v);
  return v as Obj;
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ReplyError(path, 'a string', v);
  return printable(v);
}
function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ReplyError(path, 'true or false', v);
  return v;
}
function int(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new ReplyError(path, `an integer 0..${max}`, v);
  }
  return v;
}
function arr<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) throw new ReplyError(path, 'an array', v);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}
function optional<T>(v: unknown, path: string, check: (x: unknown, path: string) => T): T | undefined {
  return v === undefined ? undefined : check(v, path);
}
function oneOf<T extends string>(values: readonly T[]) {
  return (v: unknown, path: string): T => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw new ReplyError(path, values.join(' | '), v);
    }
    return v as T;
  };
}

const wireguardImpl = oneOf<WireGuardImpl>(['kernel', 'wireguard-go']);
const persistenceVia = oneOf<PersistenceVia>(['systemd', 'none']);

/** Fields shared by both report kinds; `error` is required when ok is false. */
function head(o: Obj, mode: AgentMode, at = '') {
  if (o.agent !== 1) throw new ReplyError(`${at}agent`, 'protocol version 1', o.agent);
  oneOf([mode])(o.mode, `${at}mode`);
  const ok = bool(o.ok, `${at}ok`);
  const error = ok ? optional(o.error, `${at}error`, reason) : reason(o.error, `${at}error`);
  const wireguard = optional(o.wireguard, `${at}wireguard`, wireguardImpl);
  return {
    agent: 1 as const,
    ok,
    ...(error !== undefined && { error }),
    ...(wireguard !== undefined && { wireguard }),
  };
}

/** A reason in words; it is printed in the run's summary: keep a node from flooding it. */
function reason(v: unknown, path: string): string {
  const text = str(v, path);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

function fileChange(v: unknown, path: string): FileChange {
  const o = obj(v, path);
  const diff = optional(o.diff, `${path}.diff`, str);
  return {
    name: oneOf(INSTALLED_FILES)(o.name, `${path}.name`),
    changed: bool(o.changed, `${path}.changed`),
    ...(diff !== undefined && { diff }),
  };
}

function linkChanges(v: unknown, path: string): LinkChanges {
  const o = obj(v, path);
  const names = (key: Exclude<keyof LinkChanges, 'failed'>) => arr(o[key], `${path}.${key}`, str);
  return {
    added: names('added'),
    updated: names('updated'),
    removed: names('removed'),
    kept: names('kept'),
    failed: arr(o.failed, `${path}.failed`, linkFailure),
  };
}

function linkFailure(v: unknown, path: string): LinkFailure {
  const o = obj(v, path);
  return { name: str(o.name, `${path}.name`), error: reason(o.error, `${path}.error`) };
}

function applyReport(o: Obj, mode: ApplyReport['mode'], at = ''): ApplyReport {
  const persistence = optional(o.persistence, `${at}persistence`, persistenceVia);
  const snapshot = optional(o.snapshot, `${at}snapshot`, snapshotId);
  const switchKind = optional(o.switch, `${at}switch`, oneOf(SWITCH_KINDS));
  return {
    ...head(o, mode, at),
    mode,
    ...(persistence !== undefined && { persistence }),
    files: arr(o.files, `${at}files`, fileChange),
    links: linkChanges(o.links, `${at}links`),
    babeld: oneOf(BABELD_ACTIONS)(o.babeld, `${at}babeld`),
    notes: arr(o.notes, `${at}notes`, reason),
    ...(snapshot !== undefined && { snapshot }),
    ...(switchKind !== undefined && { switch: switchKind }),
  };
}

/** A deploy id as the agent checks it (valid_snapshot_id in rollback.sh). */
export const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

function snapshotId(v: unknown, path: string): string {
  if (typeof v !== 'string' || !SNAPSHOT_ID.test(v)) throw new ReplyError(path, 'a deploy id', v);
  return v;
}

/** What a failed reply may lack (it may be about an id the agent refused). */
function required<T>(ok: boolean, v: unknown, path: string, check: (x: unknown, path: string) => T): T | undefined {
  return ok ? check(v, path) : optional(v, path, check);
}

function confirmReport(o: Obj): ConfirmReport {
  const common = head(o, 'confirm');
  const snapshot = required(common.ok, o.snapshot, 'snapshot', snapshotId);
  const state = required(common.ok, o.state, 'state', oneOf(CONFIRM_STATES));
  return { ...common, mode: 'confirm', ...(snapshot !== undefined && { snapshot }), ...(state !== undefined && { state }) };
}

function rollbackReport(o: Obj): RollbackReport {
  const common = head(o, 'rollback');
  const restored = oneOf(['previous', 'down', 'none'] as const)(o.restored, 'restored');
  let report: ApplyReport | null = null;
  if (o.report !== null) {
    const inner = obj(o.report, 'report');
    // The restoring run is a deploy of the snapshot, or a down where the node had no plan before.
    report = applyReport(inner, oneOf(['deploy', 'down'] as const)(inner.mode, 'report.mode'), 'report.');
  }
  const snapshot = required(common.ok, o.snapshot, 'snapshot', snapshotId);
  return {
    ...common,
    mode: 'rollback',
    ...(snapshot !== undefined && { snapshot }),
    by: oneOf(ROLLBACK_BY)(o.by, 'by'),
    restored,
    report,
  };
}

function linkState(v: unknown, path: string): LinkState {
  const o = obj(v, path);
  return {
    name: str(o.name, `${path}.name`),
    publicKey: str(o.publicKey, `${path}.publicKey`),
    listenPort: int(o.listenPort, `${path}.listenPort`, 65535),
    endpoint: str(o.endpoint, `${path}.endpoint`),
    handshakeAge: o.handshakeAge === null ? null : int(o.handshakeAge, `${path}.handshakeAge`),
    rxBytes: int(o.rxBytes, `${path}.rxBytes`),
    txBytes: int(o.txBytes, `${path}.txBytes`),
    mtu: int(o.mtu, `${path}.mtu`, 65535),
    up: bool(o.up, `${path}.up`),
  };
}

function neighbour(v: unknown, path: string): BabelNeighbour {
  const o = obj(v, path);
  const rtt = o.rtt;
  if (rtt !== null && (typeof rtt !== 'number' || !Number.isFinite(rtt) || rtt < 0)) {
    throw new ReplyError(`${path}.rtt`, 'a number of milliseconds or null', rtt);
  }
  return {
    interface: str(o.interface, `${path}.interface`),
    address: str(o.address, `${path}.address`),
    rxcost: int(o.rxcost, `${path}.rxcost`),
    txcost: int(o.txcost, `${path}.txcost`),
    cost: int(o.cost, `${path}.cost`),
    rtt,
    reach: str(o.reach, `${path}.reach`),
  };
}

function nodePersistence(v: unknown, path: string): NodePersistence {
  const o = obj(v, path);
  return {
    via: persistenceVia(o.via, `${path}.via`),
    enabled: bool(o.enabled, `${path}.enabled`),
    lastRun: o.lastRun === null ? null : int(o.lastRun, `${path}.lastRun`),
    lastKind: o.lastKind === null ? null : oneOf(['boot', 'heal', 'manual', 'pull'] as const)(o.lastKind, `${path}.lastKind`),
    healsChanged: int(o.healsChanged, `${path}.healsChanged`),
    lastHealChange: str(o.lastHealChange, `${path}.lastHealChange`),
  };
}

const intOrNull = (v: unknown, path: string): number | null => (v === null ? null : int(v, path));

function nodePull(v: unknown, path: string): NodePull {
  const o = obj(v, path);
  return {
    serial: intOrNull(o.serial, `${path}.serial`),
    published: intOrNull(o.published, `${path}.published`),
    expires: intOrNull(o.expires, `${path}.expires`),
    lastAttempt: intOrNull(o.lastAttempt, `${path}.lastAttempt`),
    lastError: reason(o.lastError, `${path}.lastError`),
  };
}

function statusReport(o: Obj): StatusReport {
  const common = head(o, 'status');
  const versions = obj(o.versions, 'versions');
  const hashes = obj(o.configHashes, 'configHashes');
  const babel = obj(o.babel, 'babel');
  return {
    ...common,
    mode: 'status',
    versions: {
      wg: str(versions.wg, 'versions.wg'),
      babeld: str(versions.babeld, 'versions.babeld'),
      kernel: str(versions.kernel, 'versions.kernel'),
    },
    configHashes: Object.fromEntries(Object.entries(hashes).map(([name, h]) => [name, str(h, `configHashes.${name}`)])),
    links: arr(o.links, 'links', linkState),
    linkErrors: Object.fromEntries(
      Object.entries(obj(o.linkErrors, 'linkErrors')).map(([name, e]) => [printable(name), reason(e, `linkErrors.${printable(name)}`)]),
    ),
    persistence: nodePersistence(o.persistence, 'persistence'),
    ...(o.pull !== undefined && { pull: nodePull(o.pull, 'pull') }),
    babel: {
      running: bool(babel.running, 'babel.running'),
      configHash: babel.configHash === null ? null : str(babel.configHash, 'babel.configHash'),
      neighbours: arr(babel.neighbours, 'babel.neighbours', neighbour),
      routes: int(babel.routes, 'babel.routes'),
    },
  };
}

/** Parse and check the agent's stdout for the mode it was run in. Throws Error with a short excerpt. */
export function parseReport(stdout: string, mode: AgentMode): AgentReport {
  if (Buffer.byteLength(stdout, 'utf8') > MAX_REPLY_BYTES) {
    throw new Error(`agent reply: larger than ${MAX_REPLY_BYTES} bytes: ${excerpt(stdout)}`);
  }
  if (stdout.trim() === '') throw new Error('agent reply: the agent printed nothing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`agent reply: not one JSON document: ${excerpt(stdout)}`);
  }
  const o = obj(parsed, '(document)');
  switch (mode) {
    case 'status':
      return statusReport(o);
    case 'confirm':
      return confirmReport(o);
    case 'rollback':
      return rollbackReport(o);
    default:
      return applyReport(o, mode);
  }
}
