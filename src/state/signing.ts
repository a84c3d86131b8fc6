// The fleet's Ed25519 signing key (pull mode, docs/pull-mode.md): made with tweetnacl, kept in the
// state file beside the WireGuard keys; and the publication record (serial, next key) that only grows.
import { createPrivateKey, sign } from 'node:crypto';
import type * as Nacl from 'tweetnacl';
import { requireCjs } from '../cjs.js';
import { isWireGuardKey } from './keys.js';
import type { Signing, SigningKey } from './types.js';

let naclModule: typeof Nacl | undefined;
/** tweetnacl, loaded when a signing key is first made or read: only pull mode has one. */
const nacl = (): typeof Nacl => (naclModule ??= requireCjs('tweetnacl') as typeof Nacl);

/** A new Ed25519 key: the 32-byte seed (the private key) and its public key, both base64. */
export function generateSigningKey(): SigningKey {
  const { secretKey, publicKey } = nacl().sign.keyPair();
  return { privateKey: Buffer.from(secretKey.subarray(0, 32)).toString('base64'), publicKey: Buffer.from(publicKey).toString('base64') };
}

/** The public key of a seed (base64); undefined when it is not 32 bytes of base64. */
export function signingPublicKeyOf(privateKey: string): string | undefined {
  if (!isWireGuardKey(privateKey)) return undefined;
  return Buffer.from(nacl().sign.keyPair.fromSeed(Buffer.from(privateKey, 'base64')).publicKey).toString('base64');
}

/**
 * A detached Ed25519 signature (base64, 64 bytes) of `data`. OpenSSL's Ed25519 (node:crypto) rather
 * than tweetnacl's: the same bytes (Ed25519 is deterministic), but a 1,000-node fleet's registry is
 * ~260 MB to sign, which takes tweetnacl ~18 s and OpenSSL under 1 s here.
 */
export function signDetached(key: SigningKey, data: Buffer): string {
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: b64url(key.privateKey), x: b64url(key.publicKey) };
  return sign(null, data, createPrivateKey({ key: jwk, format: 'jwk' })).toString('base64');
}

const b64url = (b64: string): string => Buffer.from(b64, 'base64').toString('base64url');

/**
 * The record of the next publish: the serial one above the last, signed by the current key, naming
 * the next key if there is one. With `switchKey`, the next key signs and becomes the current one;
 * refused (a message) unless an earlier registry named it, or nodes could not know it.
 */
export function nextPublication(signing: Signing, switchKey: boolean): Signing | string {
  const serial = signing.serial + 1;
  if (switchKey) {
    if (!signing.next) return 'there is no next signing key: make one with keygen --rotate-signing-key, publish, then switch';
    if (signing.nextNamed === 0) return 'no registry named the next signing key yet: publish once without --switch-signing-key first';
    return { current: signing.next, serial, nextNamed: 0 };
  }
  if (!signing.next) return { ...signing, serial };
  return { ...signing, serial, nextNamed: signing.nextNamed || serial };
}
