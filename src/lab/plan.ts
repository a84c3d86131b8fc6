// Pure: lab options + routes already in use -> the full lab layout (names, subnets, addresses, paths).
import { join } from 'node:path';
import type { AddressFamily } from '../inventory/types.js';
import { InputError } from '../errors.js';
import { formatPrefix, hostCount, nthAddress, overlaps, parsePrefix, type Prefix } from './cidr.js';
import type { Lab, LabNode } from './types.js';

export const DEFAULT_NODES = 4;
export const DEFAULT_NAME = 'lab';
const MAX_NODES = 200;
/** Link names are at most 15 bytes: `rfl-` + name + `-` + up to 3 digits. */
const NAME_RE = /^[a-z][a-z0-9]{0,6}$/;

export const bridgeName = (name: string): string => `rfl-${name}`;
const nodeNamespace = (name: string, index: number): string => `rfl-${name}-${index}`;
/** Matches namespaces and root-side veth ends of lab `name` (bridge excluded). */
export const nodeLinkPattern = (name: string): RegExp => new RegExp(`^rfl-${name}-\\d+$`);
/** Matches every namespace of lab `name`: its nodes' and their NAT routers'. */
export const labNamespacePattern = (name: string): RegExp => new RegExp(`^rfl-${name}-\\d+(-nat)?$`);
const routerNamespace = (name: string, index: number): string => `rfl-${name}-${index}-nat`;

export interface LabRequest {
  name: string;
  nodes: number;
  addressFamily?: AddressFamily;
  /** An underlay address of the other family beside the first. */
  dualStack?: boolean;
  subnet?: string;
  /** Absolute lab directory. */
  dir: string;
  /** Absolute inventory path. */
  inventory: string;
  /** Nodes to put behind NAT. */
  nat?: string[];
}

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InputError(`lab names are 1-7 characters [a-z0-9] starting with a letter, got ${JSON.stringify(name)}`, { field: '--name' });
  }
  return name;
}

/** Candidate ranges for lab slot k (1..254): underlay per family, both loopback ranges, the NAT routers' private one. */
function slotRanges(k: number): { ip4: Prefix; ip6: Prefix; loopback4: Prefix; loopback6: Prefix; nat: Prefix } {
  return {
    ip4: parsePrefix(`10.231.${k}.0/24`),
    ip6: parsePrefix(`fd00:7261:6974:${k.toString(16)}::/64`),
    loopback4: parsePrefix(`10.232.${k}.0/24`),
    loopback6: parsePrefix(`fd72:6c61:62${k.toString(16).padStart(2, '0')}::/48`),
    // Every router of the lab uses the same private network, each in its own namespace.
    nat: parsePrefix(`10.233.${k}.0/24`),
  };
}

/** The host index of the bridge: the last usable address, at most .254 / ::fe. */
export function bridgeIndex(p: Prefix): number {
  const size = hostCount(p);
  return Number(p.family === 4 ? (size - 2n < 254n ? size - 2n : 254n) : size - 1n < 254n ? size - 1n : 254n);
}

export function planLab(req: LabRequest, inUse: readonly Prefix[]): Lab {
  validateName(req.name);
  if (!Number.isInteger(req.nodes) || req.nodes < 1 || req.nodes > MAX_NODES) {
    throw new InputError(`must be an integer from 1 to ${MAX_NODES}, got ${req.nodes}`, { field: '--nodes' });
  }
  // Default routes contain everything; only specific routes make a range unusable.
  const routes = inUse.filter((p) => p.length > 0);
  const clash = (p: Prefix): Prefix | undefined => routes.find((r) => overlaps(r, p));

  let user: Prefix | undefined;
  if (req.subnet !== undefined) {
    try {
      user = parsePrefix(req.subnet);
    } catch (err) {
      throw new InputError((err as Error).message, { field: '--subnet' });
    }
    const hit = clash(user);
    if (hit) throw new InputError(`${formatPrefix(user)} overlaps the existing route ${formatPrefix(hit)}`, { field: '--subnet' });
  }
  const family: AddressFamily = req.addressFamily ?? (user?.family === 6 ? 'ip6' : 'ip4');
  if (user && (user.family === 6) !== (family === 'ip6')) {
    throw new InputError(`${req.subnet} is not an ${family} subnet`, { field: '--subnet' });
  }

  const other: AddressFamily = family === 'ip4' ? 'ip6' : 'ip4';
  let slot: ReturnType<typeof slotRanges> | undefined;
  for (let k = 1; k <= 254 && !slot; k++) {
    const r = slotRanges(k);
    const underlay = user ?? r[family];
    const mine = [underlay, r.loopback4, r.loopback6, ...(req.nat?.length ? [r.nat] : []), ...(req.dualStack ? [r[other]] : [])];
    if (mine.every((p) => !clash(p)) && !(user && (overlaps(user, r.loopback4) || overlaps(user, r.loopback6)))) slot = r;
  }
  if (!slot) throw new Error('no free lab subnet left in 10.231.0.0/16 / fd00:7261:6974::/48 (every slot overlaps a route)');
  const underlay = user ?? slot[family];
  const bridgeAt = bridgeIndex(underlay);
  if (req.nodes >= bridgeAt) {
    throw new InputError(`${formatPrefix(underlay)} has room for ${bridgeAt - 1} nodes plus the bridge, not ${req.nodes}`, {
      field: '--nodes',
    });
  }

  const natted = new Set(req.nat ?? []);
  if (natted.size > 0 && (family === 'ip6' || req.dualStack))
    throw new InputError('NAT is for ip4 labs (IPv6 has no address sharing to hide behind)', { field: '--nat' });
  const nodes: LabNode[] = Array.from({ length: req.nodes }, (_, i) => {
    const index = i + 1;
    const name = `n${index}`;
    const node: LabNode = {
      name,
      namespace: nodeNamespace(req.name, index),
      veth: nodeNamespace(req.name, index),
      address: nthAddress(underlay, index),
      ...(req.dualStack && { secondAddress: nthAddress(slot[other], index) }),
      loopback: `${nthAddress(slot.loopback6, index)}/128`,
      loopback4: `${nthAddress(slot.loopback4, index)}/32`,
      dir: join(req.dir, 'nodes', name),
      sshdPid: null,
    };
    if (natted.delete(name)) {
      node.nat = {
        namespace: routerNamespace(req.name, index),
        privateAddress: nthAddress(slot.nat, 2),
        gateway: nthAddress(slot.nat, 1),
        privateLength: slot.nat.length,
      };
    }
    return node;
  });
  if (natted.size > 0) throw new InputError(`no node ${[...natted].join(', ')} in a lab of ${req.nodes}`, { field: '--nat' });
  return {
    version: 1,
    name: req.name,
    dir: req.dir,
    addressFamily: family,
    subnet: formatPrefix(underlay),
    bridge: bridgeName(req.name),
    bridgeAddress: `${nthAddress(underlay, bridgeAt)}/${underlay.length}`,
    ...(req.dualStack && {
      second: {
        subnet: formatPrefix(slot[other]),
        bridgeAddress: `${nthAddress(slot[other], bridgeIndex(slot[other]))}/${slot[other].length}`,
      },
    }),
    loopbackRanges: [formatPrefix(slot.loopback4), formatPrefix(slot.loopback6), ...(req.nat?.length ? [formatPrefix(slot.nat)] : [])],
    keyFile: join(req.dir, 'id_ed25519'),
    knownHosts: join(req.dir, 'known_hosts'),
    inventory: req.inventory,
    nodes,
  };
}
