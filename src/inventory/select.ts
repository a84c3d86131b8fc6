// --limit: pick nodes by name or by group.
import { InputError } from '../errors.js';
import type { Inventory, Node } from './types.js';
import { didYouMean } from './suggest.js';

/**
 * The nodes named by `limit` (comma-separated node or group names), in inventory order;
 * every node when `limit` is undefined.
 */
export function selectNodes(inv: Inventory, limit?: string): Node[] {
  if (limit === undefined) return inv.nodes;
  const wanted = new Set(
    limit
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  if (wanted.size === 0) throw new InputError('names no node or group', { field: '--limit' });
  const groups = new Set(inv.nodes.flatMap((n) => n.groups));
  const known = [...inv.nodes.map((n) => n.name), ...groups];
  for (const name of wanted) {
    if (!known.includes(name)) {
      throw new InputError(`"${name}" is neither a node nor a group${didYouMean(name, known)}`, { field: '--limit' });
    }
  }
  return inv.nodes.filter((n) => wanted.has(n.name) || n.groups.some((g) => wanted.has(g)));
}
