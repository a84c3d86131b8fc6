// WireGuard keys: X25519 via tweetnacl, standard base64 of 32 bytes (as `wg genkey` / `wg pubkey`).
import { randomBytes } from 'node:crypto';
import type * as Nacl from 'tweetnacl';
import { requireCjs } from '../cjs.js';

const nacl = requireCjs('tweetnacl') as typeof Nacl;

const KEY_BYTES = 32;

export function generatePrivateKey(): string {
  return Buffer.from(clamp(randomBytes(KEY_BYTES))).toString('base64');
}

/** What `wg pubkey` prints for `privateKey`. */
export function publicKeyOf(privateKey: string): string {
  const secret = decodeKey(privateKey);
  return Buffer.from(nacl.scalarMult.base(clamp(secret))).toString('base64');
}

export function isWireGuardKey(s: unknown): s is string {
  return typeof s === 'string' && /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s);
}

function decodeKey(key: string): Uint8Array {
  if (!isWireGuardKey(key)) throw new Error('not a WireGuard key (32 bytes, base64)');
  return new Uint8Array(Buffer.from(key, 'base64'));
}

/** Curve25519 clamping, as wg(8) applies to every private key. */
function clamp(bytes: Uint8Array): Uint8Array {
  const k = Uint8Array.from(bytes);
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}
