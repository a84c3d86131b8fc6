import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { generatePrivateKey, isWireGuardKey, publicKeyOf } from '../../src/state/keys.js';

test('public keys equal what `wg pubkey` prints', () => {
  for (let i = 0; i < 8; i++) {
    const privateKey = generatePrivateKey();
    // The private key goes through stdin, never argv.
    const expected = execFileSync('wg', ['pubkey'], { input: `${privateKey}\n`, encoding: 'utf8' }).trim();
    assert.equal(publicKeyOf(privateKey), expected);
  }
});

test("unclamped private keys (as `wg genkey` may not clamp) give wg's public key too", () => {
  const raw = Buffer.alloc(32, 0xff).toString('base64');
  const expected = execFileSync('wg', ['pubkey'], { input: `${raw}\n`, encoding: 'utf8' }).trim();
  assert.equal(publicKeyOf(raw), expected);
});

test("RFC 7748's X25519 test vector (Alice's key pair)", () => {
  const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
  const pub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');
  assert.equal(publicKeyOf(priv), pub);
});

test('keys are 32 bytes of base64, fresh every time', () => {
  const a = generatePrivateKey();
  assert.ok(isWireGuardKey(a));
  assert.equal(Buffer.from(a, 'base64').length, 32);
  assert.notEqual(a, generatePrivateKey());
  assert.ok(isWireGuardKey(publicKeyOf(a)));
});

test('isWireGuardKey rejects anything else', () => {
  const key = generatePrivateKey();
  // 'B' as the 43rd character would encode bits beyond the 32nd byte.
  for (const bad of ['', 'abc', `${key} `, `${key.slice(0, 42)}B=`, `${key.slice(0, 43)}`, `${key}=`, 42, null]) {
    assert.equal(isWireGuardKey(bad), false, String(bad));
  }
  assert.ok(isWireGuardKey(`${'A'.repeat(42)}A=`));
  assert.throws(() => publicKeyOf('not a key'));
});
