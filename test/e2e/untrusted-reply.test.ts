// Untrusted replies, end to end: "nodes" are ports of one OpenSSH server on 127.0.0.1 whose ForceCommand
// (picked by `Match LocalPort`) swallows the agent and prints something else — garbage, 5 MiB, nothing,
// JSON with wrong types, a crash — beside one node answering a valid report. The real CLI deploys to all of
// them: each bad node fails with a short printable reason, the good one succeeds, the run ends normally.
// Needs root (sshd); touches no network but loopback and no system state (the fake nodes change nothing).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './cli-helpers.js';
import { freePort, startLocalSshd, type LocalSshd } from './local-sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'rf-untrusted-'));
let sshd: LocalSshd | undefined;

const VALID = JSON.stringify({
  agent: 1,
  mode: 'deploy',
  ok: true,
  files: [],
  links: { added: [], updated: [], removed: [], kept: [], failed: [] },
  babeld: 'unchanged',
  notes: [],
});

/** node name -> what its "agent" does after reading (and discarding) the payload on stdin. */
const BEHAVIOUR: Record<string, string> = {
  good: `printf '%s' '${VALID}'`,
  garbage: `printf '\\033[2J\\033]0;pwned\\007garbage from a confused node\\n'`,
  huge: `head -c 5242880 /dev/zero | tr '\\000' x`,
  silent: ':',
  types: `printf '%s' '${VALID.replace('"ok":true', '"ok":"yes"')}'`,
  crash: `echo 'line one' >&2; printf 'rait-agent: \\033[31mbroke\\n' >&2; exit 3`,
};

/** The reason each bad node must be failed with. */
const REASON: Record<string, RegExp> = {
  garbage: /agent reply: not one JSON document: \?\[2J\?\]0;pwned\?garbage from a confused node/,
  huge: /stdout exceeded \d+ bytes; command stopped/,
  silent: /agent reply: the agent printed nothing/,
  types: /agent reply: ok: expected true or false, got "yes"/,
  crash: /agent exited with code 3: line one \| rait-agent: \?\[31mbroke/,
};

const ports: Record<string, number> = {};
let inventory = '';

before(async () => {
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  const matches: string[] = [];
  for (const [name, body] of Object.entries(BEHAVIOUR)) {
    ports[name] = await freePort();
    // The payload must be read, as a real agent would, or the control side's write could fail first.
    const script = join(dir, `${name}.sh`);
    writeFileSync(script, `cat >/dev/null\n${body}\n`);
    matches.push(`Match LocalPort ${ports[name]}`, `  ForceCommand /bin/sh ${script}`);
  }
  sshd = await startLocalSshd({
    dir,
    ports: Object.values(ports),
    hostKey,
    authorizedKeysFile: join(dir, 'authorized_keys'),
    extraConfig: matches,
  });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(
    knownHosts,
    Object.values(ports)
      .map((p) => `[127.0.0.1]:${p} ${hostPub}\n`)
      .join(''),
  );
  inventory = join(dir, 'fleet.yaml');
  writeFileSync(
    inventory,
    [
      `ssh: { identity_file: ${userKey}, known_hosts: ${knownHosts}, host_key_checking: strict, connect_timeout: 20 }`,
      'nodes:',
      ...Object.entries(ports).map(([name, p]) => `  ${name}: { host: 127.0.0.1, ssh: { port: ${p} } }`),
      '',
    ].join('\n'),
  );
});

after(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = { RAIT_FLEET_SSH_CONFIG: join(dir, 'no-ssh-config'), SSH_AUTH_SOCK: '', RAIT_FLEET_INVENTORY: '' };
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

interface Outcome {
  node: string;
  result: string;
  error?: string;
}

test('deploy --json: every bad reply fails only its own node, with a short printable reason', async () => {
  const r = await runCli(['deploy', '--json', inventory], env);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout) as { ok: boolean; nodes: Outcome[] };
  assert.equal(doc.ok, false);
  assert.deepEqual(
    doc.nodes.map((n) => n.node),
    Object.keys(BEHAVIOUR),
  );
  const byName = new Map(doc.nodes.map((n) => [n.node, n]));
  assert.equal(byName.get('good')!.result, 'unchanged', JSON.stringify(byName.get('good')));
  for (const [name, reason] of Object.entries(REASON)) {
    const o = byName.get(name)!;
    assert.equal(o.result, 'failed', `${name}: ${JSON.stringify(o)}`);
    assert.match(o.error!, reason, name);
    assert.ok(o.error!.length < 400, `${name}: reason of ${o.error!.length} chars`);
    assert.doesNotMatch(o.error!, CONTROL, name);
  }
  // 5 MiB went to the control machine; none of it comes out.
  assert.ok(r.stdout.length + r.stderr.length < 16 * 1024, `${r.stdout.length + r.stderr.length} bytes of output`);
});

test('deploy: the summary names every node and each failure, and nothing a node sent reaches the terminal raw', async () => {
  const r = await runCli(['deploy', inventory], env);
  assert.equal(r.code, 1, r.stderr);
  for (const name of Object.keys(BEHAVIOUR))
    assert.match(r.stdout, new RegExp(`^${name} +${name === 'good' ? 'unchanged' : 'failed'} `, 'm'));
  for (const [name, reason] of Object.entries(REASON)) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`${name}: failed: `));
    assert.match(line ?? '(no failure line)', reason, name);
  }
  assert.doesNotMatch(r.stdout + r.stderr, CONTROL);
  assert.ok(r.stdout.length + r.stderr.length < 16 * 1024);
});
