import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyHostKeyPolicy } from '../../src/ssh/host-key-policy.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const dir = tempDirs('rf-hkp-')();

function hostKey(name: string): { blob: Buffer; line: string; fp: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  const pub = readFileSync(`${path}.pub`, 'utf8').trim().split(' ');
  const fp = execFileSync('ssh-keygen', ['-lf', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { blob: Buffer.from(pub[1], 'base64'), line: `${pub[0]} ${pub[1]}`, fp };
}

const key = hostKey('a');
const other = hostKey('b');
const noLog = (): void => {};

test('strict refuses an unknown key, showing its fingerprint and the line to add', () => {
  const kh = join(dir, 'missing', 'known_hosts');
  const why = applyHostKeyPolicy('strict', kh, '127.0.0.1', 2222, key.blob, noLog);
  assert.ok(why?.includes(key.fp), why);
  assert.ok(why?.includes(`[127.0.0.1]:2222 ${key.line}`), why);
});

test('strict accepts a known key and refuses a changed one naming file:line', () => {
  const kh = join(dir, 'kh-strict');
  writeFileSync(kh, `# fleet\nn1 ${key.line}\n`);
  assert.equal(applyHostKeyPolicy('strict', kh, 'n1', 22, key.blob, noLog), undefined);
  const why = applyHostKeyPolicy('strict', kh, 'n1', 22, other.blob, noLog);
  assert.ok(why?.includes(`${kh}:2`), why);
  assert.ok(why?.includes(other.fp) && why.includes(key.fp), why);
});

test('accept-new records an unknown key (file created 0600), then accepts it, and refuses a change', () => {
  const kh = join(dir, 'new', 'known_hosts');
  const logs: string[] = [];
  assert.equal(
    applyHostKeyPolicy('accept-new', kh, 'n2', 2200, key.blob, (m) => logs.push(m)),
    undefined,
  );
  assert.equal(readFileSync(kh, 'utf8'), `[n2]:2200 ${key.line}\n`);
  assert.equal(statSync(kh).mode & 0o777, 0o600);
  assert.match(logs.join('\n'), /recorded host key of \[n2\]:2200/);
  assert.equal(applyHostKeyPolicy('accept-new', kh, 'n2', 2200, key.blob, noLog), undefined);
  assert.match(applyHostKeyPolicy('accept-new', kh, 'n2', 2200, other.blob, noLog) ?? '', /CHANGED.*:1 /);
  assert.equal(readFileSync(kh, 'utf8').split('\n').length, 2, 'nothing appended for a changed key');
});

test('accept-new appends on a new line even when the file lacks a final newline', () => {
  const kh = join(dir, 'kh-nonl');
  writeFileSync(kh, `n1 ${key.line}`);
  applyHostKeyPolicy('accept-new', kh, 'n3', 22, other.blob, noLog);
  assert.equal(readFileSync(kh, 'utf8'), `n1 ${key.line}\nn3 ${other.line}\n`);
});

test('revoked keys are refused even under accept-new; off accepts anything', () => {
  const kh = join(dir, 'kh-revoked');
  writeFileSync(kh, `@revoked * ${other.line}\n`);
  assert.match(applyHostKeyPolicy('accept-new', kh, 'n4', 22, other.blob, noLog) ?? '', /@revoked at .*kh-revoked:1/);
  assert.equal(applyHostKeyPolicy('off', kh, 'n4', 22, other.blob, noLog), undefined);
});
