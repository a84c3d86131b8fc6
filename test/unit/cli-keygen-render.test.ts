// The keygen and render commands end to end through the real CLI (no network, temp files only).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { readState } from '../../src/state/store.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { CLI, escapeRegExp } from '../fixtures/cli.js';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, RAIT_FLEET_INVENTORY: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const newDir = tempDirs('rf-cli-');

function fleetDir(yaml: string): { dir: string; inv: string; state: string } {
  const dir = newDir();
  const inv = join(dir, 'fleet.yaml');
  writeFileSync(inv, yaml);
  return { dir, inv, state: join(dir, 'fleet.state.toml') };
}

const YAML = [
  'nodes:',
  '  a: { host: 192.0.2.1, vars: { loopback: "fd00::a/128" } }',
  '  b: { host: 192.0.2.2, send_port: 50100 }',
  '',
].join('\n');

test('keygen: creates the state (0600), prints public keys only; a second run changes nothing', () => {
  const { inv, state } = fleetDir(YAML);
  const first = cli('keygen', inv);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /generated keys for a, b/);
  const keys = readState(state);
  assert.equal(statSync(state).mode & 0o777, 0o600);
  assert.match(first.stdout, /^node +public key +SendPort$/m);
  assert.match(first.stdout, new RegExp(`^a +${escapeRegExp(keys.nodes.a!.publicKey)} +50000$`, 'm'));
  assert.match(first.stdout, new RegExp(`^b +${escapeRegExp(keys.nodes.b!.publicKey)} +50100$`, 'm'));
  for (const k of Object.values(keys.nodes)) assert.ok(!first.stdout.includes(k.privateKey) && !first.stderr.includes(k.privateKey));

  const before = { text: readFileSync(state, 'utf8'), ino: statSync(state).ino, mtime: statSync(state).mtimeMs };
  const second = cli('keygen', inv);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, first.stdout);
  assert.equal(second.stderr, '');
  assert.deepEqual({ text: readFileSync(state, 'utf8'), ino: statSync(state).ino, mtime: statSync(state).mtimeMs }, before);
});

test('keygen --rotate changes one key and keeps the ports', () => {
  const { inv, state } = fleetDir(YAML);
  assert.equal(cli('keygen', inv).code, 0);
  const before = readState(state);
  const r = cli('keygen', '--rotate', 'b', inv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /rotated keys of b/);
  const after = readState(state);
  assert.deepEqual(after.nodes.a, before.nodes.a);
  assert.notEqual(after.nodes.b!.privateKey, before.nodes.b!.privateKey);
  assert.equal(after.nodes.b!.sendPort, 50100);
  assert.equal(cli('keygen', '--rotate', 'zz', inv).code, 2);
});

test('a bad inventory exits 2 naming file:line and field, and writes nothing', () => {
  const { dir, inv } = fleetDir('nodes:\n  a: { host: 192.0.2.1 }\n  b: { host: "b;reboot" }\n');
  const r = cli('keygen', inv);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${escapeRegExp(inv)}:3:\\d+: nodes\\.b\\.host: invalid host`));
  assert.equal(r.stdout, '');
  assert.deepEqual(readdirSync(dir), ['fleet.yaml']);
});

test('a damaged state file exits 2 naming it and is left alone', () => {
  const { inv, state } = fleetDir(YAML);
  writeFileSync(state, 'version = 1\n[nodes.a]\nprivate_key = "x"\n');
  const r = cli('keygen', inv);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${escapeRegExp(state)}:3: nodes\\.a\\.private_key`));
  assert.equal(readFileSync(state, 'utf8'), 'version = 1\n[nodes.a]\nprivate_key = "x"\n');
  assert.equal(existsSync(`${state}.lock`), false);
});

test('render: generates missing keys (saying so), redacts the private key unless --show-secrets', () => {
  const { inv, state } = fleetDir(YAML);
  const r = cli('render', inv, '--node', 'a');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /generated keys for a, b/);
  const key = readState(state).nodes.a!.privateKey;
  assert.ok(!r.stdout.includes(key));
  assert.match(r.stdout, /==> rait\.conf <==\n[^]*PrivateKey = "<redacted>"/);
  assert.match(r.stdout, /==> peers\.conf <==/);
  assert.match(r.stdout, /==> babeld\.conf <==[^]*interface rait50100\n[^]*redistribute local ip fd00::a\/128 allow/);

  const secret = cli('render', inv, '--node', 'a', '--file', 'rait.conf', '--show-secrets');
  assert.equal(secret.code, 0, secret.stderr);
  assert.equal(secret.stderr, '');
  assert.match(secret.stdout, new RegExp(`^PrivateKey = "${escapeRegExp(key)}"$`, 'm'));
  assert.doesNotMatch(secret.stdout, /==>/);
});

test('render --show-secrets refuses a key pair that does not match; the redacted render does not use the private key', () => {
  const { inv, state } = fleetDir(YAML);
  assert.equal(cli('keygen', inv).code, 0);
  const a = readState(state).nodes.a!.publicKey;
  // A hand edit gone wrong: a's public key with its first character changed (still a valid key).
  const edited = `${a.startsWith('A') ? 'B' : 'A'}${a.slice(1)}`;
  writeFileSync(state, readFileSync(state, 'utf8').replace(a, edited));
  const shown = cli('render', inv, '--node', 'a', '--show-secrets');
  assert.equal(shown.code, 2, shown.stderr);
  assert.match(shown.stderr, /nodes\.a\.public_key: damaged state file: does not match private_key/);
  assert.equal(shown.stdout, '');
  const redacted = cli('render', inv, '--node', 'a');
  assert.equal(redacted.code, 0, redacted.stderr);
  assert.match(redacted.stdout, /PrivateKey = "<redacted>"/);
});

test('render --template renders any liquid template with the node variables', () => {
  const { dir, inv } = fleetDir(YAML);
  const tpl = join(dir, 'x.liquid');
  writeFileSync(tpl, '{{ node.name }}:{% for l in links %}{{ l.peer }}@{{ l.listen_port }}{% endfor %}\n');
  const r = cli('render', inv, '--node', 'a', '--template', tpl);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'a:b@50100\n');
});

test('render: unknown node or file exits 2', () => {
  const { inv } = fleetDir(YAML);
  assert.equal(cli('render', inv, '--node', 'zz').code, 2);
  assert.equal(cli('render', inv, '--node', 'a', '--file', 'nope.conf').code, 2);
  assert.equal(cli('render', inv).code, 2);
});

test('a missing inventory says so and what writes it, not a raw ENOENT', () => {
  const dir = newDir();
  const lab = cli('keygen', join(dir, 'inventories', 'lab.yaml'));
  assert.equal(lab.code, 2);
  assert.match(lab.stderr, /lab\.yaml: no such inventory — `rait-fleet lab up` writes it for a local lab\n$/);
  const other = cli('keygen', join(dir, 'fleet.yaml'));
  assert.equal(other.code, 2);
  assert.match(other.stderr, /fleet\.yaml: no such inventory — give the inventory as an argument or in \$RAIT_FLEET_INVENTORY/);
  assert.doesNotMatch(lab.stderr + other.stderr, /ENOENT/);
  assert.deepEqual(readdirSync(dir), []);
});

test('status while a deploy holds the state lock says so instead of guessing faults', async () => {
  // Nodes whose SSH port is closed, and a live process holding the lock as a running deploy would.
  const { inv, state } = fleetDir(YAML.replace('nodes:', 'ssh: { port: 9, connect_timeout: 2, identity_file: ./id }\nnodes:'));
  assert.equal(cli('keygen', inv).code, 0);
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    writeFileSync(`${state}.lock`, `${holder.pid}\n`);
    const r = cli('status', inv, '--json');
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { healthy: boolean; deployInProgress?: { pid: number }; problems: string[] };
    assert.equal(doc.healthy, false);
    assert.deepEqual(doc.deployInProgress, { pid: holder.pid });
    assert.equal(doc.problems[0], `deploy in progress (process ${holder.pid}): links are being changed — run status again when it ends`);
    assert.ok(!doc.problems.some((p) => /endpoint|UDP 6696|missing/.test(p)), JSON.stringify(doc.problems));
  } finally {
    holder.kill();
    await once(holder, 'exit');
  }
  // The lock left by a process that is gone is no deploy.
  const after = JSON.parse(cli('status', inv, '--json').stdout) as { deployInProgress?: unknown; problems: string[] };
  assert.equal(after.deployInProgress, undefined);
});
