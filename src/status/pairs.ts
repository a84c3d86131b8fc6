// The links of each ordered pair of nodes, for the analysis and the matrix. Pure.
import type { LinkHealth } from './types.js';

const NONE: readonly LinkHealth[] = [];

/**
 * Looks up the links from one node to another (one per address family the two share, or the one
 * saying none is expected). Nodes are numbered and the pairs kept in one flat array: a 1,000-node
 * mesh has a million pairs, each looked up from both ends, and a map per node (a million entries in
 * all) cost more in cache misses than the lookups themselves.
 */
export function pairIndex(links: readonly LinkHealth[]): (from: string, to: string) => readonly LinkHealth[] {
  const ids = new Map<string, number>();
  for (const l of links) {
    if (!ids.has(l.from)) ids.set(l.from, ids.size);
    if (!ids.has(l.to)) ids.set(l.to, ids.size);
  }
  const n = ids.size;
  const pairs: (LinkHealth[] | undefined)[] = new Array<LinkHealth[] | undefined>(n * n);
  for (const l of links) {
    const at = ids.get(l.from)! * n + ids.get(l.to)!;
    const pair = pairs[at];
    if (pair) pair.push(l);
    else pairs[at] = [l];
  }
  return (from, to) => {
    const i = ids.get(from);
    const j = ids.get(to);
    return (i === undefined || j === undefined ? undefined : pairs[i * n + j]) ?? NONE;
  };
}
