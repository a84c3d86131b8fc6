// Tiny IPv4/IPv6 prefix arithmetic for picking lab subnets: parse, contain, overlap, nth host.
import { ipVersion } from '../ip-version.js';

export interface Prefix {
  family: 4 | 6;
  /** Network address as an integer (host bits cleared). */
  network: bigint;
  length: number;
}

const bits = (family: 4 | 6): number => (family === 4 ? 32 : 128);

export function parseAddress(text: string): { family: 4 | 6; value: bigint } {
  const version = ipVersion(text);
  if (version === 4) {
    return { family: 4, value: text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n) };
  }
  if (version === 6 && !text.includes('.')) {
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  throw new Error(`not an IP address: ${JSON.stringify(text)}`);
}

/** Parses `addr/len` (or a bare address as a host prefix); host bits are cleared. */
export function parsePrefix(text: string): Prefix {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined || addr === undefined) throw new Error(`not a prefix: ${JSON.stringify(text)}`);
  const { family, value } = parseAddress(addr);
  const length = len === undefined ? bits(family) : Number(len);
  if (!/^\d+$/.test(len ?? '0') || length > bits(family)) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  const hostBits = BigInt(bits(family) - length);
  return { family, network: (value >> hostBits) << hostBits, length };
}

export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  const hostBits = BigInt(bits(outer.family) - outer.length);
  return inner.network >> hostBits === outer.network >> hostBits;
}

export const overlaps = (a: Prefix, b: Prefix): boolean => contains(a, b) || contains(b, a);

/** Number of host addresses in the prefix, capped (we never need more than a few hundred). */
export function hostCount(p: Prefix, cap = 1n << 16n): bigint {
  const size = 1n << BigInt(bits(p.family) - p.length);
  return size < cap ? size : cap;
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let best = { start: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}

export const formatPrefix = (p: Prefix): string => `${formatAddress(p.family, p.network)}/${p.length}`;

/** The address `index` hosts into the prefix (index 0 is the network address itself). */
export function nthAddress(p: Prefix, index: number): string {
  return formatAddress(p.family, p.network + BigInt(index));
}
