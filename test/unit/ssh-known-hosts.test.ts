import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  hostMatches,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/ssh/host-keys.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const dir = tempDirs('rf-kh-')();

/** A fresh host key made by ssh-keygen: its .pub line, blob and what `ssh-keygen -lf` says of it. */
function makeKey(type: 'ed25519' | 'rsa' | 'ecdsa', name: string) {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
  const pub = readFileSync(`${path}.pub`, 'utf8').trim();
  const [keyType, base64] = pub.split(' ');
  const keygenFingerprint = execFileSync('ssh-keygen', ['-lf', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { keyType, base64, blob: Buffer.from(base64, 'base64'), keygenFingerprint };
}

const ed = makeKey('ed25519', 'ed');
const rsa = makeKey('rsa', 'rsa');
const ecdsa = makeKey('ecdsa', 'ecdsa');
const other = makeKey('ed25519', 'other');

test('fingerprints match ssh-keygen -lf for ed25519, rsa and ecdsa', () => {
  for (const k of [ed, rsa, ecdsa]) {
    assert.equal(fingerprint(k.blob), k.keygenFingerprint);
    assert.equal(keyTypeOf(k.blob), k.keyType);
  }
});

const plainText = [
  '# comment',
  '',
  `alpha.example,10.0.0.1 ${ed.keyType} ${ed.base64}`,
  `[beta.example]:2222 ${rsa.keyType} ${rsa.base64} some comment`,
  `@cert-authority *.example ${ecdsa.keyType} ${ecdsa.base64}`,
  `gamma.example ${ecdsa.keyType} ${ecdsa.base64}`,
  'garbage line',
  `broken.example ssh-ed25519 ${rsa.base64}`,
].join('\n');

test('parses plain lines, skips comments, @cert-authority, malformed and mistyped keys', () => {
  const entries = parseKnownHosts(plainText, '/kh');
  assert.deepEqual(
    entries.map((e) => [e.line, e.hosts, e.keyType]),
    [
      [3, 'alpha.example,10.0.0.1', ed.keyType],
      [4, '[beta.example]:2222', rsa.keyType],
      [6, 'gamma.example', ecdsa.keyType],
    ],
  );
});

test('host matching: lists, [host]:port, wildcards and negation', () => {
  assert.ok(hostMatches('alpha.example,10.0.0.1', '10.0.0.1', 22));
  assert.ok(!hostMatches('alpha.example,10.0.0.1', '10.0.0.1', 2222));
  assert.ok(hostMatches('[beta.example]:2222', 'beta.example', 2222));
  assert.ok(!hostMatches('[beta.example]:2222', 'beta.example', 22));
  assert.ok(hostMatches('*.example,!secret.example', 'web.EXAMPLE', 22));
  assert.ok(!hostMatches('*.example,!secret.example', 'secret.example', 22));
  assert.ok(hostMatches('node?', 'node7', 22));
  assert.ok(!hostMatches('node?', 'node17', 22));
  assert.ok(!hostMatches('a.b', 'axb', 22), 'dots are literal');
});

test('verdicts: known, unknown, changed (same type first), revoked', () => {
  const text = `${plainText}\n@revoked alpha.example ${other.keyType} ${other.base64}\nalpha.example ${rsa.keyType} ${rsa.base64}`;
  const entries = parseKnownHosts(text, '/kh');
  assert.equal(checkHostKey(entries, 'alpha.example', 22, ed.blob).status, 'known');
  assert.equal(checkHostKey(entries, 'alpha.example', 22, rsa.blob).status, 'known');
  assert.equal(checkHostKey(entries, 'beta.example', 2222, rsa.blob).status, 'known');
  assert.equal(checkHostKey(entries, 'beta.example', 22, rsa.blob).status, 'unknown');
  const changed = checkHostKey(entries, '10.0.0.1', 22, other.blob);
  assert.equal(changed.status, 'changed');
  assert.equal(changed.status === 'changed' && changed.entries[0].line, 3);
  const changedRsa = checkHostKey(entries, 'alpha.example', 22, makeKey('rsa', 'rsa2').blob);
  assert.equal(changedRsa.status === 'changed' && changedRsa.entries[0].line, 10, 'the same-type line comes first');
  const revoked = checkHostKey(entries, 'alpha.example', 22, other.blob);
  assert.equal(revoked.status, 'revoked');
  assert.equal(revoked.status === 'revoked' && revoked.entry.line, 9);
  assert.deepEqual(knownKeyTypes(entries, 'alpha.example', 22), [ed.keyType, rsa.keyType]);
});

test('hashed entries written by ssh-keygen -H match the same hosts and ports', () => {
  const file = join(dir, 'known_hosts');
  // ssh-keygen -H refuses files with lines it cannot parse: give it the valid ones only.
  writeFileSync(
    file,
    plainText
      .split('\n')
      .filter((l) => /^[a-z[]/.test(l) && !l.startsWith('garbage') && !l.startsWith('broken'))
      .join('\n') + '\n',
  );
  const hashedFile = join(dir, 'known_hosts_hashed');
  copyFileSync(file, hashedFile);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', hashedFile], { stdio: 'ignore' });
  const hashed = parseKnownHosts(readFileSync(hashedFile, 'utf8'), hashedFile);
  assert.ok(hashed.length === 4 && hashed.every((e) => e.hosts.startsWith('|1|')), 'ssh-keygen hashed every line');
  assert.equal(checkHostKey(hashed, 'alpha.example', 22, ed.blob).status, 'known');
  assert.equal(checkHostKey(hashed, '10.0.0.1', 22, ed.blob).status, 'known');
  assert.equal(checkHostKey(hashed, 'beta.example', 2222, rsa.blob).status, 'known');
  assert.equal(checkHostKey(hashed, 'beta.example', 2223, rsa.blob).status, 'unknown');
  assert.equal(checkHostKey(hashed, 'gamma.example', 22, ed.blob).status, 'changed');
  assert.equal(checkHostKey(hashed, 'delta.example', 22, ed.blob).status, 'unknown');
});

test('the line recorded for a new key is what ssh-keygen -F finds', () => {
  const file = join(dir, 'recorded');
  writeFileSync(file, `${knownHostsLine('127.0.0.1', 2200, ed.blob)}\n${knownHostsLine('h.example', 22, rsa.blob)}\n`);
  assert.match(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2200', '-f', file], { encoding: 'utf8' }), /found: line 1/);
  assert.match(execFileSync('ssh-keygen', ['-F', 'h.example', '-f', file], { encoding: 'utf8' }), /found: line 2/);
});

test('host key algorithms offer the known types first', () => {
  const algos = hostKeyAlgorithms(['ssh-rsa']);
  assert.deepEqual(algos.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.ok(algos.includes('ssh-ed25519'));
  assert.equal(hostKeyAlgorithms([])[0], 'ssh-ed25519');
  assert.equal(new Set(algos).size, algos.length);
});
