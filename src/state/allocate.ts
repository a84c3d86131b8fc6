// Keys and SendPorts for the inventory's nodes, from the previous state. Pure apart from key randomness.
import { InputError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { AddressFamily } from '../inventory/types.js';
import { generatePrivateKey, publicKeyOf } from './keys.js';
import { portFields, recordedPorts } from './send-ports.js';
import { generateSigningKey } from './signing.js';
import type { FleetState, NodeKeys } from './types.js';

export interface EnsureOptions {
  /** Nodes that get a new key pair. */
  rotate?: string[];
  /** Drop state entries of nodes no longer in the inventory (otherwise they keep their ports reserved). */
  prune?: boolean;
  /** Make the next signing key (pull mode), which the registry names until publish switches to it. */
  rotateSigningKey?: boolean;
}

export interface EnsureResult {
  state: FleetState;
  /** Nodes that had no keys. */
  generated: string[];
  rotated: string[];
  /** Entries dropped by --prune. */
  pruned: string[];
  /** Nodes whose SendPort changed (a new pin, a pin taken from them, or a range that no longer holds it). */
  moved: string[];
  /** Nodes that gained or lost a transport (an address family), and with it a SendPort. */
  reshaped: string[];
  /** Pull mode: the fleet's signing key was made, or the next one. */
  signing?: 'generated' | 'next';
}

/**
 * Every inventory node gets keys, and each of its transports a SendPort unique in the mesh. Ports: pins
 * first; a transport keeps its port while it is in range and not pinned by another; the rest take the
 * lowest free port. New nodes never take a port held by an existing entry.
 */
export function ensureKeys(inv: Inventory, state: FleetState, opts: EnsureOptions = {}): EnsureResult {
  const inInventory = new Set(inv.nodes.map((n) => n.name));
  const rotate = new Set(opts.rotate ?? []);
  for (const name of rotate) {
    if (!inInventory.has(name)) throw new InputError(`no node "${name}" in ${inv.path}`, { field: '--rotate' });
  }
  const [lo, hi] = inv.mesh.sendPortRange;
  const result: EnsureResult = { state: { nodes: {} }, generated: [], rotated: [], pruned: [], moved: [], reshaped: [] };

  // Entries of removed nodes: dropped with --prune, otherwise kept with their ports reserved.
  const taken = new Map<number, string>();
  const kept: Record<string, NodeKeys> = {};
  for (const [name, keys] of Object.entries(state.nodes)) {
    if (inInventory.has(name)) continue;
    if (opts.prune) result.pruned.push(name);
    else {
      kept[name] = keys;
      for (const port of [keys.sendPort, keys.sendPortIp6]) if (port !== undefined) taken.set(port, name);
    }
  }
  for (const node of inv.nodes) {
    for (const t of node.transports) {
      if (t.sendPort === undefined) continue;
      const holder = taken.get(t.sendPort);
      if (holder) {
        throw new InputError(
          `port ${t.sendPort} pinned for "${node.name}" is held by "${holder}", which is no longer in the inventory; run keygen --prune`,
          { file: inv.path, field: `nodes.${node.name}.send_port` },
        );
      }
      taken.set(t.sendPort, node.name);
    }
  }
  // Each transport's port as recorded, kept where it is still free and in range.
  const recorded = new Map<string, Map<AddressFamily, number>>();
  for (const node of inv.nodes) {
    const old = state.nodes[node.name];
    const ports = old
      ? recordedPorts(
          old,
          node.transports.map((t) => t.family),
        )
      : new Map<AddressFamily, number>();
    recorded.set(node.name, ports);
    for (const t of node.transports) {
      const port = ports.get(t.family);
      if (t.sendPort === undefined && port !== undefined && port >= lo && port <= hi && !taken.has(port))
        taken.set(port, `${node.name} ${t.family}`);
    }
  }

  let next = lo;
  const freePort = (): number => {
    while (next <= hi && taken.has(next)) next++;
    if (next > hi) {
      throw new InputError(`no free SendPort left in ${lo}..${hi}`, { file: inv.path, field: 'mesh.send_port_range' });
    }
    return next;
  };
  for (const node of inv.nodes) {
    const old = state.nodes[node.name];
    const before = recorded.get(node.name)!;
    const ports = new Map<AddressFamily, number>();
    for (const t of node.transports) {
      const port = before.get(t.family);
      let sendPort = t.sendPort ?? (port !== undefined && taken.get(port) === `${node.name} ${t.family}` ? port : undefined);
      if (sendPort === undefined) {
        sendPort = freePort();
        taken.set(sendPort, node.name);
      }
      ports.set(t.family, sendPort);
    }
    const fields = portFields(ports);
    if (old) {
      if ([...before].some(([family, port]) => ports.get(family) !== port)) result.moved.push(node.name);
      if ((old.sendPortIp6 === undefined) !== (fields.sendPortIp6 === undefined)) result.reshaped.push(node.name);
    }
    let keys: NodeKeys;
    if (!old || rotate.has(node.name)) {
      const privateKey = generatePrivateKey();
      keys = { privateKey, publicKey: publicKeyOf(privateKey), ...fields };
      (old ? result.rotated : result.generated).push(node.name);
    } else {
      keys = old.sendPort === fields.sendPort && old.sendPortIp6 === fields.sendPortIp6 ? old : withPorts(old, fields);
    }
    result.state.nodes[node.name] = keys;
  }
  Object.assign(result.state.nodes, kept);
  ensureSigningKey(inv, state, opts, result);
  return result;
}

/** `keys` with these ports (and no ip6 port unless given). */
function withPorts(keys: NodeKeys, ports: Pick<NodeKeys, 'sendPort' | 'sendPortIp6'>): NodeKeys {
  const next = { ...keys, ...ports };
  if (ports.sendPortIp6 === undefined) delete next.sendPortIp6;
  return next;
}

/** Pull mode needs the fleet's signing key: made with the node keys, kept once made (also without pull). */
function ensureSigningKey(inv: Inventory, state: FleetState, opts: EnsureOptions, result: EnsureResult): void {
  let signing = state.signing;
  if (opts.rotateSigningKey && !inv.mesh.pull) {
    throw new InputError(`mesh.pull is not set in ${inv.path}: a signing key is for pull mode only`, { field: '--rotate-signing-key' });
  }
  if (!signing && inv.mesh.pull) {
    signing = { current: generateSigningKey(), serial: 0, nextNamed: 0 };
    result.signing = 'generated';
  }
  if (signing && opts.rotateSigningKey && result.signing !== 'generated') {
    signing = { ...signing, next: generateSigningKey(), nextNamed: 0 };
    result.signing = 'next';
  }
  if (signing) result.state.signing = signing;
}

/** True when ensureKeys changed anything, i.e. the state must be written. */
export function changed(r: EnsureResult): boolean {
  return r.generated.length + r.rotated.length + r.pruned.length + r.moved.length + r.reshaped.length > 0 || r.signing !== undefined;
}
