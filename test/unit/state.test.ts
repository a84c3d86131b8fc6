import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { checkKeyPairs, formatState, parseState } from '../../src/state/codec.js';
import { generatePrivateKey, publicKeyOf } from '../../src/state/keys.js';
import { generateSigningKey } from '../../src/state/signing.js';
import { readState, withStateLock, writeState } from '../../src/state/store.js';
import type { FleetState } from '../../src/state/types.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tmp = tempDirs('rf-state-');

function keysFor(sendPort: number) {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyOf(privateKey), sendPort };
}

const sample: FleetState = { nodes: { hk1: keysFor(50000), 'fra.1': keysFor(50001) } };

test('format -> parse round-trips, with version 1 and [nodes.<name>] tables', () => {
  const text = formatState(sample);
  assert.match(text, /^version = 1$/m);
  assert.match(text, /^\[nodes\.hk1\]$/m);
  assert.match(text, /^\[nodes\."fra\.1"\]$/m);
  assert.deepEqual(parseState('/s.toml', text), sample);
});

test('pull mode: the signing keys and the publication record round-trip in a [signing] table', () => {
  const withSigning: FleetState = { ...sample, signing: { current: generateSigningKey(), serial: 7, nextNamed: 0 } };
  const text = formatState(withSigning);
  assert.match(text, /^\[signing\]\nprivate_key = ".*"\npublic_key = ".*"\nserial = 7\n$/m);
  assert.deepEqual(parseState('/s.toml', text), withSigning);
  const rotating: FleetState = { ...withSigning, signing: { ...withSigning.signing!, next: generateSigningKey(), nextNamed: 8 } };
  assert.deepEqual(parseState('/s.toml', formatState(rotating)), rotating);
  const other = generateSigningKey();
  const cases: [string, string, RegExp][] = [
    [text.replace(/^public_key = ".*"\nserial/m, `public_key = "${other.publicKey}"\nserial`), 'signing.public_key', /does not match/],
    [text.replace(withSigning.signing!.current.privateKey, 'abc'), 'signing.private_key', /Ed25519 private key/],
    [text.replace('serial = 7', 'serial = -1'), 'signing.serial', /whole number/],
    [text.replace('serial = 7', 'serial = 7\ncolour = 1'), 'signing.colour', /unknown key/],
  ];
  for (const [bad, field, message] of cases) {
    assert.throws(
      () => parseState('/s.toml', bad),
      (e: unknown) => {
        assert.ok(e instanceof InputError && e.where.field === field && message.test(e.message), String(e));
        assert.ok(e.where.line! > 0 && bad.split('\n')[e.where.line! - 1]!.startsWith(field.split('.')[1]!), String(e.where.line));
        return true;
      },
    );
  }
});

test('damaged state files are InputErrors naming the file and the field', async (t) => {
  const good = formatState(sample);
  const other = keysFor(1);
  const cases: [string, string, string | undefined, RegExp][] = [
    ['not TOML', `${good}\n[nodes.x\n`, 'TOML syntax', /damaged state file/],
    ['wrong version', good.replace('version = 1', 'version = 2'), 'version', /expected 1/],
    ['unknown key', `${good}\n[extra]\n`, 'extra', /unknown key/],
    ['unknown node key', good.replace('send_port = 50000', 'send_port = 50000\ncolor = "red"'), 'nodes.hk1.color', /unknown key/],
    ['bad private key', good.replace(sample.nodes.hk1!.privateKey, 'abc'), 'nodes.hk1.private_key', /WireGuard key/],
    [
      'public key of another node',
      good.replace(sample.nodes.hk1!.publicKey, sample.nodes['fra.1']!.publicKey),
      'nodes.fra.1.public_key',
      /same key as node "hk1"/,
    ],
    ['port not an integer', good.replace('send_port = 50000', 'send_port = "50000"'), 'nodes.hk1.send_port', /port number/],
    ['port out of range', good.replace('send_port = 50000', 'send_port = 70000'), 'nodes.hk1.send_port', /port number/],
    ['duplicate port', good.replace('send_port = 50001', 'send_port = 50000'), 'nodes.fra.1.send_port', /also a SendPort of node "hk1"/],
    ['duplicate table', `${good}\n[nodes.hk1]\nsend_port = 1\n`, 'TOML syntax', /damaged state file/],
  ];
  for (const [name, text, field, message] of cases) {
    await t.test(name, () => {
      assert.throws(
        () => parseState('/fleet/x.state.toml', text),
        (e: unknown) => {
          assert.ok(e instanceof InputError);
          assert.ok(e.message.startsWith('/fleet/x.state.toml'), e.message);
          assert.equal(e.where.field, field);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }
  await t.test('field errors carry the line of the field', () => {
    const text = good.replace(sample.nodes.hk1!.privateKey, 'abc');
    const line = text.split('\n').indexOf('private_key = "abc"') + 1;
    assert.ok(line > 0);
    assert.throws(
      () => parseState('/f.toml', text),
      (e: unknown) => e instanceof InputError && e.where.line === line,
    );
    const dup = good.replace('send_port = 50001', 'send_port = 50000');
    const second = dup.split('\n').lastIndexOf('send_port = 50000') + 1;
    assert.throws(
      () => parseState('/f.toml', dup),
      (e: unknown) => e instanceof InputError && e.where.line === second,
    );
  });
  await t.test('a key pair that does not match is refused for the nodes checked, and only them', () => {
    const text = good.replace(sample.nodes.hk1!.publicKey, other.publicKey);
    const state = parseState('/f.toml', text);
    const line = text.split('\n').indexOf(`public_key = "${other.publicKey}"`) + 1;
    assert.doesNotThrow(() => checkKeyPairs('/f.toml', text, state, ['fra.1']));
    assert.throws(
      () => checkKeyPairs('/f.toml', text, state, ['fra.1', 'hk1']),
      (e: unknown) =>
        e instanceof InputError && e.where.field === 'nodes.hk1.public_key' && e.where.line === line && /does not match/.test(e.message),
    );
  });
  await t.test('syntax errors carry the line', () => {
    assert.throws(
      () => parseState('/f.toml', 'version = 1\nnodes = [\n'),
      (e: unknown) => e instanceof InputError && e.where.line === 3,
    );
  });
});

test('readState: missing file is empty, damaged file throws (never regenerated)', () => {
  const dir = tmp();
  const path = join(dir, 'fleet.state.toml');
  assert.deepEqual(readState(path), { nodes: {} });
  writeFileSync(path, 'garbage = = 1');
  assert.throws(
    () => readState(path),
    (e: unknown) => e instanceof InputError && e.message.startsWith(path),
  );
  assert.equal(readFileSync(path, 'utf8'), 'garbage = = 1');
});

test('writeState: mode 0600 even over a 0644 file, no temp file left, content replaced', () => {
  const dir = tmp();
  const path = join(dir, 'fleet.state.toml');
  writeFileSync(path, 'old');
  chmodSync(path, 0o644);
  const before = statSync(path).ino;
  writeState(path, sample);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // A new inode: the file was replaced by rename, not rewritten in place.
  assert.notEqual(statSync(path).ino, before);
  assert.deepEqual(readdirSync(dir), ['fleet.state.toml']);
  assert.deepEqual(readState(path), sample);
});

test('withStateLock: holds the lock file, removes it after, even on error', async () => {
  const path = join(tmp(), 's.toml');
  const seen = await withStateLock(path, () => readFileSync(`${path}.lock`, 'utf8').trim());
  assert.equal(seen, String(process.pid));
  assert.equal(existsSync(`${path}.lock`), false);
  await assert.rejects(
    withStateLock(path, () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(existsSync(`${path}.lock`), false);
});

test('withStateLock: a lock left by a dead process is taken over', async () => {
  const path = join(tmp(), 's.toml');
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.on('exit', r));
  writeFileSync(`${path}.lock`, `${dead.pid}\n`);
  assert.equal(await withStateLock(path, () => 'ran'), 'ran');
});

test('withStateLock: another process holding the lock makes us wait, then fail naming its pid', async () => {
  const path = join(tmp(), 's.toml');
  const store = new URL('../../src/state/store.js', import.meta.url).href;
  // The child takes the lock, says so, and holds it until its stdin closes.
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const { withStateLock } = await import(${JSON.stringify(store)});
    await withStateLock(${JSON.stringify(path)}, () => new Promise((resolve) => {
      process.stdout.write('locked\\n');
      process.stdin.on('end', resolve).resume();
    }));`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    await assert.rejects(
      withStateLock(path, () => 'never', { timeoutMs: 300 }),
      (e: unknown) => e instanceof InputError && e.message.includes(`locked by process ${child.pid}`),
    );
    // Released while we wait: we get it.
    const waiting = withStateLock(path, () => 'got it', { timeoutMs: 10_000 });
    child.stdin.end();
    assert.equal(await waiting, 'got it');
  } finally {
    child.kill();
  }
});
