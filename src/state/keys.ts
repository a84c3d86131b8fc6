// WireGuard keys: X25519, standard base64 of 32 bytes (as `wg genkey` / `wg pubkey`).
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

const KEY_BYTES = 32;

export function generatePrivateKey(): string {
  return Buffer.from(clamp(randomBytes(KEY_BYTES))).toString('base64');
}

/**
 * What `wg pubkey` prints for `privateKey`. OpenSSL's X25519 (node:crypto), as signing.ts does for
 * Ed25519, rather than tweetnacl's: the same bytes, but ~0.1 ms a key against tweetnacl's ~2 ms for
 * each of a process's first keys (JIT warm-up) and ~0.6 ms warm, which every deploy pays once per node.
 * JWK is the quick import (PKCS#8 DER goes through OpenSSL 3's decoders, ~0.5 ms): node reads a private
 * key from `d` alone and only requires `x` to be a string; the public key is derived from `d`.
 */
export function publicKeyOf(privateKey: string): string {
  const d = Buffer.from(clamp(decodeKey(privateKey))).toString('base64url');
  const jwk = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' })).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
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
