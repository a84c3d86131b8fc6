// The SSH transport against a real OpenSSH server of our own on loopback (needs root for sshd).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '../../src/inventory/types.js';
import { closeAll, connect, SshError, type SshErrorKind } from '../../src/ssh/index.js';
import { freePort, startLocalSshd, type LocalSshd } from './local-sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'rf-ssh-e2e-'));
let sshd: LocalSshd | undefined;
let port = 0;
let hostFingerprint = '';
let hostPub = '';
let otherPub = '';

function keygen(name: string, passphrase = '', type = 'ed25519'): string {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', name, '-f', path]);
  return path;
}

before(async () => {
  const hostKey = keygen('host_ed25519');
  hostPub = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  hostFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1];
  otherPub = readFileSync(`${keygen('other_host')}.pub`, 'utf8')
    .split(' ')
    .slice(0, 2)
    .join(' ');
  const authorized = ['id_plain', 'id_rsa', 'id_encrypted'].map((name) => {
    const path = keygen(name, name === 'id_encrypted' ? 'sekrit' : '', name === 'id_rsa' ? 'rsa' : 'ed25519');
    return readFileSync(`${path}.pub`, 'utf8');
  });
  keygen('id_stranger');
  writeFileSync(join(dir, 'authorized_keys'), authorized.join(''));
  port = await freePort();
  sshd = await startLocalSshd({
    dir,
    ports: [port],
    hostKey,
    authorizedKeysFile: join(dir, 'authorized_keys'),
    extraConfig: ['AllowTcpForwarding yes', 'MaxStartups 50'],
  });
  // Never the operator's own ssh config or agent.
  process.env.RAIT_FLEET_SSH_CONFIG = join(dir, 'ssh_config');
  writeFileSync(process.env.RAIT_FLEET_SSH_CONFIG, `Host fleet-alias\n  HostName 127.0.0.1\n  Port ${port}\n`);
  delete process.env.SSH_AUTH_SOCK;
  delete process.env.RAIT_FLEET_SSH_PASSPHRASE;
});

after(async () => {
  closeAll();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function node(over: Partial<Node['ssh']> = {}, host = '127.0.0.1', name = 'n1'): Node {
  return {
    name,
    host,
    nat: false,
    transports: [{ family: 'ip4', endpoint: host }],
    groups: [],
    vars: {},
    ssh: {
      user: 'root',
      port,
      identityFile: join(dir, 'id_plain'),
      knownHosts: join(dir, 'known_hosts_unused'),
      hostKeyChecking: 'off',
      become: false,
      connectTimeout: 10,
      ...over,
    },
  };
}

async function refusal(n: Node, kind: SshErrorKind): Promise<string> {
  const err = await connect(n).then(
    (c) => (c.close(), undefined),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  return err.message;
}

function knownHosts(name: string, text?: string): string {
  const path = join(dir, name);
  if (text !== undefined) writeFileSync(path, text);
  return path;
}

test('exec sends stdin and returns stdout, stderr and the exit code', async () => {
  const conn = await connect(node());
  try {
    const input = 'héllo\n' + 'x'.repeat(300_000) + '\n';
    const res = await conn.exec('cat; echo oops >&2; exit 3', input);
    assert.equal(res.code, 3);
    assert.equal(res.stdout, input);
    assert.equal(res.stderr, 'oops\n');
    const again = await conn.exec('sh -s -- a b', 'echo "$#:$1$2"');
    assert.deepEqual(again, { code: 0, stdout: '2:ab\n', stderr: '' });
  } finally {
    conn.close();
  }
});

test('exec enforces its output cap and its timeout', async () => {
  const conn = await connect(node());
  try {
    await assert.rejects(conn.exec('head -c 100000 /dev/zero', '', { maxOutput: 1000 }), /stdout exceeded 1000 bytes/);
    await assert.rejects(conn.exec('sleep 30', '', { timeoutMs: 300 }), (e: unknown) => e instanceof SshError && e.kind === 'timeout');
    assert.equal((await conn.exec('echo still usable', '')).stdout, 'still usable\n');
  } finally {
    conn.close();
  }
});

test('strict refuses an unknown host key, showing its fingerprint', async () => {
  const message = await refusal(node({ hostKeyChecking: 'strict', knownHosts: knownHosts('kh_missing') }), 'host-key');
  assert.ok(message.includes(hostFingerprint), message);
  assert.ok(message.includes(`[127.0.0.1]:${port} ${hostPub}`), message);
});

test('strict refuses a changed host key naming the known_hosts line, and accepts the right one', async () => {
  const file = knownHosts('kh_changed', `# ours\n[127.0.0.1]:${port} ${otherPub}\n`);
  const message = await refusal(node({ hostKeyChecking: 'strict', knownHosts: file }), 'host-key');
  assert.ok(message.includes(`${file}:2`), message);
  assert.ok(message.includes(hostFingerprint), message);
  const good = knownHosts('kh_good', `[127.0.0.1]:${port} ${hostPub}\n`);
  (await connect(node({ hostKeyChecking: 'strict', knownHosts: good }))).close();
});

test('strict also reads hashed known_hosts entries', async () => {
  const file = knownHosts('kh_hashed', `[127.0.0.1]:${port} ${hostPub}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
  assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
  (await connect(node({ hostKeyChecking: 'strict', knownHosts: file }))).close();
});

test('accept-new records an unknown key, accepts it later, and refuses a changed one', async () => {
  const file = join(dir, 'accept', 'known_hosts');
  const logs: string[] = [];
  (await connect(node({ hostKeyChecking: 'accept-new', knownHosts: file }), { log: (m) => logs.push(m) })).close();
  assert.equal(readFileSync(file, 'utf8'), `[127.0.0.1]:${port} ${hostPub}\n`);
  assert.ok(
    logs.some((l) => l.includes('recorded host key')),
    logs.join('\n'),
  );
  (await connect(node({ hostKeyChecking: 'accept-new', knownHosts: file }))).close();
  assert.equal(readFileSync(file, 'utf8').split('\n').length, 2, 'recorded once');
  writeFileSync(file, `[127.0.0.1]:${port} ${otherPub}\n`);
  const message = await refusal(node({ hostKeyChecking: 'accept-new', knownHosts: file }), 'host-key');
  assert.ok(message.includes(`${file}:1`), message);
});

test('off accepts any host key', async () => {
  const file = knownHosts('kh_off', `[127.0.0.1]:${port} ${otherPub}\n`);
  (await connect(node({ hostKeyChecking: 'off', knownHosts: file }))).close();
});

test('one jump connection is shared by every node behind it', async () => {
  const accepted = (): number => sshd!.log().split('Accepted publickey').length - 1;
  const before = accepted();
  const logs: string[] = [];
  const behindJump = (name: string): Node => node({ jump: `root@127.0.0.1:${port}`, identityFile: join(dir, 'id_rsa') }, '127.0.0.1', name);
  const conns = await Promise.all(['a', 'b'].map((n) => connect(behindJump(n), { log: (m) => logs.push(m) })));
  try {
    const outputs = await Promise.all(conns.map((c) => c.exec('echo "$SSH_CONNECTION"', '')));
    // Both sessions arrive through the jump host's forwarding, from loopback.
    for (const o of outputs) assert.match(o.stdout, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+/);
    assert.equal(logs.filter((l) => l.startsWith('opening jump connection')).length, 1, logs.join('\n'));
    for (let i = 0; i < 50 && accepted() - before < 3; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(accepted() - before, 3, 'one jump login + two target logins');
  } finally {
    conns.forEach((c) => c.close());
    closeAll();
  }
});

test('ssh_config HostName and Port apply to the node host', async () => {
  const conn = await connect(node({ port: 22 }, 'fleet-alias'));
  try {
    assert.equal((await conn.exec('echo ok', '')).stdout, 'ok\n');
  } finally {
    conn.close();
  }
});

test('a server that accepts TCP but never speaks fails with a timeout', async () => {
  const held: Socket[] = [];
  const mute: Server = createServer((s) => held.push(s));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  try {
    const mutePort = (mute.address() as { port: number }).port;
    const message = await refusal(node({ port: mutePort, connectTimeout: 1 }), 'timeout');
    assert.match(message, /connect_timeout/);
  } finally {
    held.forEach((s) => s.destroy());
    mute.close();
  }
});

test('a closed port is unreachable', async () => {
  const closed = await freePort();
  assert.match(await refusal(node({ port: closed }), 'unreachable'), /connection refused/);
});

test('an encrypted key is unlocked with RAIT_FLEET_SSH_PASSPHRASE; a wrong one is an auth error', async () => {
  const n = node({ identityFile: join(dir, 'id_encrypted') });
  process.env.RAIT_FLEET_SSH_PASSPHRASE = 'wrong';
  try {
    assert.match(await refusal(n, 'auth'), /wrong passphrase/);
    process.env.RAIT_FLEET_SSH_PASSPHRASE = 'sekrit';
    const conn = await connect(n);
    assert.equal((await conn.exec('id -u', '')).stdout, '0\n');
    conn.close();
  } finally {
    delete process.env.RAIT_FLEET_SSH_PASSPHRASE;
  }
});

test('auth failures and missing keys say what to check', async () => {
  assert.match(
    await refusal(node({ identityFile: join(dir, 'id_stranger') }), 'auth'),
    /permission denied \(publickey\) for root@127\.0\.0\.1.*authorized_keys/,
  );
  assert.match(await refusal(node({ identityFile: join(dir, 'nope') }), 'auth'), /not found and no ssh-agent/);
});
