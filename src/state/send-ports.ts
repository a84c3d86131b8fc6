// Which SendPort belongs to which transport of a node. The state keeps `send_port` for a node of one
// family (whatever the family, as before dual-stack) and adds `send_port_ip6` for a node of both. Pure.
import type { AddressFamily } from '../inventory/types.js';
import type { NodeKeys } from './types.js';

/** The SendPort of the node's transport in `family` (the node must have that transport). */
export function sendPortOf(keys: Pick<NodeKeys, 'sendPort' | 'sendPortIp6'>, family: AddressFamily): number {
  return family === 'ip6' && keys.sendPortIp6 !== undefined ? keys.sendPortIp6 : keys.sendPort;
}

/**
 * The ports recorded for a node, by the families it has now. A recorded dual-stack node says which
 * port is whose; a node of one family recorded one port without saying its family: it stays with
 * the node's only family, or with ip4 when the node now has both (IPv6 added to an IPv4 mesh keeps
 * every IPv4 link as it was).
 */
export function recordedPorts(
  keys: Pick<NodeKeys, 'sendPort' | 'sendPortIp6'>,
  families: readonly AddressFamily[],
): Map<AddressFamily, number> {
  if (keys.sendPortIp6 !== undefined) {
    const both: [AddressFamily, number][] = [
      ['ip4', keys.sendPort],
      ['ip6', keys.sendPortIp6],
    ];
    return new Map(both.filter(([family]) => families.includes(family)));
  }
  const owner = families.includes('ip4') ? 'ip4' : families[0]!;
  return new Map([[owner, keys.sendPort]]);
}

/** The state's fields for a node's ports, by family. */
export function portFields(ports: ReadonlyMap<AddressFamily, number>): Pick<NodeKeys, 'sendPort' | 'sendPortIp6'> {
  if (ports.size === 1) return { sendPort: [...ports.values()][0]! };
  return { sendPort: ports.get('ip4')!, sendPortIp6: ports.get('ip6')! };
}
