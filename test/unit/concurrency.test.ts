// Several rait-fleet processes on one fleet at once, through the real CLI. The only network is a silent TCP
// server on 127.0.0.1 standing in for a node that never answers, so a deploy stays busy until its SSH
// connect timeout while the tests look at the lock and start other commands.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readState } from '../../src/state/store.js';
import { CLI, escapeRegExp } from '../fixtures/cli.js';

const STORE = new URL('../../src/state/store.js', import.meta.url).href;
const root = mkdtempSync(join(tmpdir(), 'rf-concurrency-'));
const idFile = join(root, 'id');
let silent: Server;
let silentPort = 0;
const sockets = new Set<Socket>();
const children = new Set<ChildProcess>();

before(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', idFile]);
  // Accepts connections and never says a word: ssh2 waits for the banner until connect_timeout.
  silent = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
  for (const s of sockets) s.destroy();
  silent.close();
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process exits. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves once stderr contains `text`. */
  saw: (text: string) => Promise<void>;
}

function start(file: string, args: string[]): Run {
  const child = spawn(process.execPath, [file, ...args], {
    env: { PATH: process.env.PATH, HOME: root, RAIT_FLEET_INVENTORY: '', RAIT_FLEET_SSH_CONFIG: join(root, 'no-ssh-config') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: [string, () => void][] = [];
  const check = (): void => {
    for (const [i, [text, resolve]] of [...waiters.entries()].reverse()) {
      if (stderr.includes(text) || stdout.includes(text)) {
        waiters.splice(i, 1);
        resolve();
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => ((stdout += d), check()));
  child.stderr.on('data', (d: Buffer) => ((stderr += d), check()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  const saw = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      waiters.push([text, resolve]);
      check();
      void done.then((r) => reject(new Error(`exited (${r.code}) before saying "${text}":\n${r.stdout}${r.stderr}`)));
    });
  return { child, pid: child.pid!, done, saw };
}

const cli = (...args: string[]): Run => start(CLI, args);

/** A fresh fleet of two nodes; both "nodes" are the silent server. */
function fleet(name: string): { inv: string; state: string; lock: string } {
  const dir = mkdtempSync(join(root, `${name}-`));
  const inv = join(dir, 'fleet.yaml');
  writeFileSync(
    inv,
    `ssh: { port: ${silentPort}, connect_timeout: 3, identity_file: ${idFile}, known_hosts: ${join(dir, 'known_hosts')} }\n` +
      'nodes:\n  a: { host: 127.0.0.1 }\n  b: { host: 127.0.0.1 }\n',
  );
  const state = join(dir, 'fleet.state.toml');
  return { inv, state, lock: `${state}.lock` };
}

/** A process other than the CLI holding the state lock until told to let go on stdin. */
function holdLock(state: string): Run & { release: () => void } {
  const file = join(root, 'hold-lock.mjs');
  writeFileSync(
    file,
    `const { withStateLock } = await import(${JSON.stringify(STORE)});
     await withStateLock(process.argv[2], () => new Promise((resolve) => {
       process.stderr.write('locked\\n');
       process.stdin.on('end', resolve).resume();
     }));
     process.stderr.write('released\\n');`,
  );
  const run = start(file, [state]);
  return { ...run, release: () => run.child.stdin!.end() };
}

test('two keygens at once on a new fleet: both succeed and agree, the state is valid, no lock is left', async () => {
  const { inv, state } = fleet('keygen2');
  const [one, two] = await Promise.all([cli('keygen', inv).done, cli('keygen', inv).done]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(one.stdout, two.stdout);
  // Exactly one of them generated the keys; the other found them under the lock.
  assert.equal([one, two].filter((r) => /generated keys for a, b/.test(r.stderr)).length, 1);
  const keys = readState(state);
  for (const name of ['a', 'b'])
    assert.match(one.stdout, new RegExp(`^${name} +${keys.nodes[name]!.publicKey.replace(/[+/]/g, '\\$&')} `, 'm'));
  assert.equal(statSync(state).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(state, '..')).sort(), ['fleet.state.toml', 'fleet.yaml'], 'no lock or temp file left');
});

test('keygen that must write waits for another process holding the lock, then proceeds', async () => {
  const { inv, state } = fleet('keygen-wait');
  const holder = holdLock(state);
  await holder.saw('locked');
  const keygen = cli('keygen', inv);
  await keygen.saw(`waiting for the state lock held by process ${holder.pid}`);
  assert.throws(() => readFileSync(state), /ENOENT/, 'nothing written while the other process holds the lock');
  const order: string[] = [];
  void holder.done.then(() => order.push('holder'));
  holder.release();
  const r = await keygen.done;
  order.push('keygen');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(order, ['holder', 'keygen']);
  assert.deepEqual(Object.keys(readState(state).nodes), ['a', 'b']);
});

test('deploy holds the lock for its whole run; keygen --rotate and a second deploy wait for it', async () => {
  const { inv, state, lock } = fleet('deploy');
  assert.equal((await cli('keygen', inv).done).code, 0);
  const first = cli('deploy', '--forks', '1', inv);
  await first.saw('connecting');
  // The lock names the deploy and holds nothing else, certainly no key.
  assert.equal(readFileSync(lock, 'utf8'), `${first.pid}\n`);
  assert.equal(statSync(lock).mode & 0o777, 0o600);
  const rotate = cli('keygen', '--rotate', 'a', inv);
  const second = cli('deploy', inv);
  await rotate.saw(`waiting for the state lock held by process ${first.pid}`);
  await second.saw('waiting for the state lock held by process');
  // Up-to-date readers do not wait: render reads the state without the lock.
  const render = await cli('render', '-n', 'a', '--file', 'peers.conf', inv).done;
  assert.equal(render.code, 0, render.stderr);
  const firstResult = await first.done;
  // Both nodes are silent, so the deploy fails on them; what matters is it ran to its summary.
  assert.equal(firstResult.code, 1, firstResult.stderr);
  assert.match(firstResult.stdout, /^a +(unreachable|failed)/m);
  const [rotated, secondResult] = await Promise.all([rotate.done, second.done]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, /rotated keys of a/);
  assert.equal(secondResult.code, 1, secondResult.stderr);
  assert.match(secondResult.stdout, /^b +(unreachable|failed)/m);
  assert.equal(
    readdirSync(join(state, '..')).some((f) => f.endsWith('.lock') || f.endsWith('.tmp')),
    false,
  );
});

test('a deploy that cannot get the lock in time fails with exit 2 naming the holder, and touches nothing', async () => {
  const { inv, state, lock } = fleet('deploy-timeout');
  assert.equal((await cli('keygen', inv).done).code, 0);
  const before = readFileSync(state);
  const holder = holdLock(state);
  await holder.saw('locked');
  const r = await cli('deploy', inv).done;
  holder.release();
  await holder.done;
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${escapeRegExp(lock)}: locked by process ${holder.pid}`));
  assert.doesNotMatch(r.stderr, /connecting/, 'no node was contacted');
  assert.deepEqual(readFileSync(state), before);
});
