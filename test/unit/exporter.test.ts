// `rait-fleet exporter` as a process: it serves before its first round ends, goes on while nodes fail,
// and SIGTERM or SIGINT end it with exit code 0 at once, also during a round. No root; the only
// network is loopback: node a is a silent TCP server (a round waits its connect_timeout on it), node b
// a closed port.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI } from '../fixtures/cli.js';
import { parseExposition, valueOf } from '../fixtures/prometheus-text.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const CONNECT_TIMEOUT = 3;
const dir = tempDirs('rf-exporter-')();
const inventory = join(dir, 'fleet.yaml');
let silent: Server;
const sockets = new Set<Socket>();

before(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  // Accepts connections and never says a word: ssh2 waits for the banner until connect_timeout.
  silent = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = (silent.address() as { port: number }).port;
  const ssh = `ssh: { connect_timeout: ${CONNECT_TIMEOUT}, identity_file: ./id, known_hosts: ./known_hosts }`;
  writeFileSync(
    inventory,
    `${ssh}\nnodes:\n  a: { host: 127.0.0.1, ssh: { port: ${port} } }\n  b: { host: 127.0.0.2, ssh: { port: 9 } }\n`,
  );
});

after(() => {
  for (const s of sockets) s.destroy();
  silent.close();
});

interface Exporter {
  url: string;
  stderr: () => string;
  /** Sends the signal and resolves with the exit code (null: killed by a signal) and how long it took. */
  stop: (signal: NodeJS.Signals) => Promise<{ code: number | null; ms: number }>;
}

async function startExporter(): Promise<Exporter> {
  const child = spawn(process.execPath, [CLI, 'exporter', inventory, '--listen', '127.0.0.1:0', '--interval', '1'], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, RAIT_FLEET_INVENTORY: '', RAIT_FLEET_SSH_CONFIG: join(dir, 'no-ssh-config') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // However a test ends, the process it started does not outlive it.
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /serving (http:\/\/\S+)\/metrics/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(([code]) => reject(new Error(`exporter exited ${code}: ${stderr}`)));
  });
  return {
    url,
    stderr: () => stderr,
    stop: async (signal) => {
      const started = Date.now();
      child.kill(signal);
      const [code] = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

const scrape = async (url: string): Promise<Response> => fetch(url, { signal: AbortSignal.timeout(5000) });

test('serves /metrics before the first round ends and after it, with every node down; SIGTERM ends it with 0', async () => {
  const exporter = await startExporter();
  // The first round waits connect_timeout on node a: meanwhile the exporter says what it knows.
  const first = await scrape(`${exporter.url}/metrics`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const early = parseExposition(await first.text());
  assert.equal(valueOf(early, 'rait_status_rounds_total', { result: 'ok' }), 0);
  assert.ok(valueOf(early, 'rait_status_round_age_seconds')! < CONNECT_TIMEOUT);
  assert.equal(valueOf(early, 'rait_node_up', { node: 'a' }), undefined);
  assert.match(await (await scrape(`${exporter.url}/`)).text(), /No status round has ended yet/);

  let text = '';
  const deadline = Date.now() + 4 * CONNECT_TIMEOUT * 1000;
  while (Date.now() < deadline) {
    text = await (await scrape(`${exporter.url}/metrics`)).text();
    if (valueOf(parseExposition(text), 'rait_status_rounds_total', { result: 'ok' })! > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const parsed = parseExposition(text);
  assert.ok(valueOf(parsed, 'rait_status_rounds_total', { result: 'ok' })! > 0, `no round ended: ${exporter.stderr()}`);
  assert.equal(valueOf(parsed, 'rait_status_rounds_total', { result: 'error' }), 0);
  assert.deepEqual(
    parsed.samples.filter((s) => s.name === 'rait_node_up').map((s) => [s.labels.node, s.value]),
    [
      ['a', 0],
      ['b', 0],
    ],
  );
  assert.deepEqual(
    parsed.samples.filter((s) => s.name === 'rait_link_up').map((s) => [s.labels.from, s.labels.to, s.value]),
    [
      ['a', 'b', 0],
      ['b', 'a', 0],
    ],
  );
  assert.equal(valueOf(parsed, 'rait_mesh_healthy'), 0);
  assert.equal((await scrape(`${exporter.url}/nothing`)).status, 404);

  // Rounds run back to back now (each waits on node a longer than the interval): the stop lands in one.
  const { code, ms } = await exporter.stop('SIGTERM');
  assert.equal(code, 0, exporter.stderr());
  assert.ok(ms < CONNECT_TIMEOUT * 1000, `the stop waited ${ms} ms for the round`);
  assert.match(exporter.stderr(), /SIGTERM: stopping/);
  await assert.rejects(scrape(`${exporter.url}/metrics`), 'nothing listens any more');
});

test('SIGINT (Ctrl-C) ends it with 0 too', async () => {
  const exporter = await startExporter();
  assert.equal((await scrape(`${exporter.url}/metrics`)).status, 200);
  const { code } = await exporter.stop('SIGINT');
  assert.equal(code, 0, exporter.stderr());
});
