// The state file on disk: mode 0600 whatever the umask, and a warning when its directory is open to everyone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, escapeRegExp } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const root = tempDirs('rf-state-files-')();

/** Runs the CLI under `umask`, in a fresh directory of `mode` holding a two-node inventory. */
function keygenIn(name: string, mode: number, umask: string, ...flags: string[]) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, mode);
  const inv = join(dir, 'fleet.yaml');
  writeFileSync(inv, 'nodes:\n  a: { host: 127.0.0.1 }\n  b: { host: 127.0.0.2 }\n');
  const run = (...more: string[]) =>
    spawnSync('/bin/sh', ['-c', `umask ${umask}; exec "$@"`, 'sh', process.execPath, CLI, 'keygen', ...more, inv], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: root, RAIT_FLEET_INVENTORY: '' },
    });
  return { dir, state: join(dir, 'fleet.state.toml'), first: run(...flags), run };
}

test('the state file is 0600 under umask 000, and stays 0600 when rewritten over a looser file', () => {
  const { dir, state, first, run } = keygenIn('umask', 0o700, '000');
  assert.equal(first.status, 0, first.stderr);
  assert.equal(statSync(state).mode & 0o777, 0o600);
  chmodSync(state, 0o644);
  const rotated = run('--rotate', 'a');
  assert.equal(rotated.status, 0, rotated.stderr);
  assert.equal(statSync(state).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['fleet.state.toml', 'fleet.yaml']);
});

test('a world-writable state directory draws a warning naming it; a private one does not', () => {
  const open = keygenIn('open', 0o777, '022');
  assert.equal(open.first.status, 0, open.first.stderr);
  assert.match(open.first.stderr, new RegExp(`warning: ${escapeRegExp(open.dir)} is writable by every user`));
  assert.equal(statSync(open.dir).mode & 0o777, 0o777, 'the directory is left as the user made it');
  const closed = keygenIn('closed', 0o755, '022');
  assert.equal(closed.first.status, 0, closed.first.stderr);
  assert.doesNotMatch(closed.first.stderr, /warning/);
});
