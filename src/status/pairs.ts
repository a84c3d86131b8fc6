// The links of each ordered pair of nodes, for the analysis and the matrix. Pure but for a memo of the index.
import type { LinkHealth } from './types.js';

const NONE: readonly LinkHealth[] = [];

/** The index of a links array already indexed: the analysis builds it, the matrix of the same MeshHealth reuses it. */
const built = new WeakMap<readonly LinkHealth[], (from: string, to: string) => readonly LinkHealth[]>();

/**
 * Looks up the links from one node to another (one per address family the two share, or the one
 * saying none is expected). The nodes links start from (the rows asked) and end at (every node) are
 * numbered and the pairs kept in one flat array: a 1,000-node mesh has a million pairs, each looked
 * up from both ends, and a map per node (a million entries in all) cost more in cache misses than
 * the lookups themselves. A links array is never changed once analysed, so its index is kept.
 */
export function pairIndex(links: readonly LinkHealth[]): (from: string, to: string) => readonly LinkHealth[] {
  let index = built.get(links);
  if (!index) built.set(links, (index = buildIndex(links)));
  return index;
}

function buildIndex(links: readonly LinkHealth[]): (from: string, to: string) => readonly LinkHealth[] {
  const rows = new Map<string, number>();
  const columns = new Map<string, number>();
  for (const l of links) {
    if (!rows.has(l.from)) rows.set(l.from, rows.size);
    if (!columns.has(l.to)) columns.set(l.to, columns.size);
  }
  const width = columns.size;
  const pairs: (LinkHealth[] | undefined)[] = new Array<LinkHealth[] | undefined>(rows.size * width);
  for (const l of links) {
    const at = rows.get(l.from)! * width + columns.get(l.to)!;
    const pair = pairs[at];
    if (pair) pair.push(l);
    else pairs[at] = [l];
  }
  return (from, to) => {
    const i = rows.get(from);
    const j = columns.get(to);
    return (i === undefined || j === undefined ? undefined : pairs[i * width + j]) ?? NONE;
  };
}
