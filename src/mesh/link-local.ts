// Stable IPv6 link-local addresses for the two ends of a link, derived from the two public keys.
import { createHash } from 'node:crypto';

/** Per-key material hashed once, so that deriving a million addresses costs only integer mixing. */
export interface KeySeed {
  /** Used when this key is the local end. */
  readonly own: readonly [number, number];
  /** Used when this key is the remote end; different words, so the two ends of a link differ. */
  readonly peer: readonly [number, number];
}

/**
 * Lower-case hex of 16-bit groups without leading zeros, each made when first needed: a 1,000-node
 * plan meets most of the 65,536 values, a deploy --limit of one node a few dozen (making all of them
 * up front cost every command 5 ms).
 */
const HEX: string[] = new Array<string>(0x10000);
const hex = (group: number): string => (HEX[group] ??= group.toString(16));

export function keySeed(publicKey: string): KeySeed {
  const h = createHash('sha256').update(publicKey).digest();
  return { own: [h.readUInt32BE(0), h.readUInt32BE(4)], peer: [h.readUInt32BE(8), h.readUInt32BE(12)] };
}

/** `fe80::xxxx:xxxx:xxxx:xxxx/64` for the end of the link `own` -> `peer`, in canonical (RFC 5952) form. */
export function linkLocal(own: KeySeed, peer: KeySeed): string {
  const hi = fmix32(own.own[0] ^ fmix32(peer.peer[0] ^ 0x52414954));
  const lo = fmix32(own.own[1] ^ fmix32((peer.peer[1] + hi) | 0));
  // A zero first group would belong to the `::` run and make the text non-canonical; `ip addr` prints
  // canonical form, and the agent compares text.
  const g0 = hi >>> 16 || 1;
  // join() yields one flat string; chained `+` would leave a tree of cons strings per address (GC-heavy
  // at a million links).
  return ['fe80:', hex(g0), hex(hi & 0xffff), hex(lo >>> 16), `${hex(lo & 0xffff)}/64`].join(':');
}

/** MurmurHash3's 32-bit finalizer: a cheap, well-mixing bijection. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
