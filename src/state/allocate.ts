// Keys and SendPorts for the inventory's nodes, from the previous state. Pure apart from key randomness.
import { InputError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { generatePrivateKey, publicKeyOf } from './keys.js';
import type { FleetState, NodeKeys } from './types.js';

export interface EnsureOptions {
  /** Nodes that get a new key pair. */
  rotate?: string[];
  /** Drop state entries of nodes no longer in the inventory (otherwise they keep their ports reserved). */
  prune?: boolean;
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
}

/**
 * Every inventory node gets keys and a unique SendPort. Ports: pins first; a node keeps its port while it
 * is in range and not pinned by another; the rest take the lowest free port. New nodes never take a port
 * held by an existing entry.
 */
export function ensureKeys(inv: Inventory, state: FleetState, opts: EnsureOptions = {}): EnsureResult {
  const inInventory = new Set(inv.nodes.map((n) => n.name));
  const rotate = new Set(opts.rotate ?? []);
  for (const name of rotate) {
    if (!inInventory.has(name)) throw new InputError(`no node "${name}" in ${inv.path}`, { field: '--rotate' });
  }
  const [lo, hi] = inv.mesh.sendPortRange;
  const result: EnsureResult = { state: { nodes: {} }, generated: [], rotated: [], pruned: [], moved: [] };

  // Entries of removed nodes: dropped with --prune, otherwise kept with their ports reserved.
  const taken = new Map<number, string>();
  const kept: Record<string, NodeKeys> = {};
  for (const [name, keys] of Object.entries(state.nodes)) {
    if (inInventory.has(name)) continue;
    if (opts.prune) result.pruned.push(name);
    else {
      kept[name] = keys;
      taken.set(keys.sendPort, name);
    }
  }
  for (const node of inv.nodes) {
    if (node.sendPort === undefined) continue;
    const holder = taken.get(node.sendPort);
    if (holder) {
      throw new InputError(
        `port ${node.sendPort} pinned for "${node.name}" is held by "${holder}", which is no longer in the inventory; run keygen --prune`,
        { file: inv.path, field: `nodes.${node.name}.send_port` },
      );
    }
    taken.set(node.sendPort, node.name);
  }
  for (const node of inv.nodes) {
    const old = state.nodes[node.name];
    const keepsPort = old && old.sendPort >= lo && old.sendPort <= hi && !taken.has(old.sendPort);
    if (node.sendPort === undefined && keepsPort) taken.set(old.sendPort, node.name);
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
    let sendPort = node.sendPort ?? (old && taken.get(old.sendPort) === node.name ? old.sendPort : undefined);
    if (sendPort === undefined) {
      sendPort = freePort();
      taken.set(sendPort, node.name);
    }
    if (old && old.sendPort !== sendPort) result.moved.push(node.name);
    let keys: NodeKeys;
    if (!old || rotate.has(node.name)) {
      const privateKey = generatePrivateKey();
      keys = { privateKey, publicKey: publicKeyOf(privateKey), sendPort };
      (old ? result.rotated : result.generated).push(node.name);
    } else {
      keys = old.sendPort === sendPort ? old : { ...old, sendPort };
    }
    result.state.nodes[node.name] = keys;
  }
  Object.assign(result.state.nodes, kept);
  return result;
}

/** True when ensureKeys changed anything, i.e. the state must be written. */
export function changed(r: EnsureResult): boolean {
  return r.generated.length + r.rotated.length + r.pruned.length + r.moved.length > 0;
}
