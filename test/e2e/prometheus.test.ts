// A real Prometheus (Debian's package) scrapes `rait-fleet exporter` in front of a 3-node lab (issue 13):
// with one interface deleted, a query for `rait_link_up == 0` finds exactly that link by node names.
// Everything listens on 127.0.0.1; the exporter talks only to the lab's nodes. Runs as root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labExec } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import { CLI, runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';

/** A port free on 127.0.0.1 now (the system's pick), for a program that takes its port as a flag. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

interface Started {
  child: ChildProcess;
  /** Its stderr so far, the last 64 KiB: what it said when a test fails. */
  log: () => string;
}

function start(command: string, args: string[]): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => void (log = (log + d.toString()).slice(-65536)));
  child.on('error', (err) => void (log += `\n${err.message}`));
  return { child, log: () => log };
}

/** Ends a process this test started, by its pid, and waits until it is gone. */
async function stop(p: Started | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = once(p.child, 'exit');
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus scrapes the exporter in front of a lab', () => {
  const suite = labSuite('prom', 3);
  const work = mkdtempSync(join(tmpdir(), 'rf-prometheus-e2e-'));
  let exporter: Started | undefined;
  let prometheus: Started | undefined;
  let promUrl = '';

  /** An instant query through Prometheus' HTTP API. */
  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: { result: PromSample[] } };
    assert.equal(body.status, 'success', JSON.stringify(body));
    return body.data.result;
  };
  const links = (samples: PromSample[]): string[] => samples.map((s) => `${s.metric.from}->${s.metric.to}`).sort();
  const logs = (): string => `exporter:\n${exporter?.log()}\nprometheus:\n${prometheus?.log().slice(-4000)}`;

  before(async () => {
    const deploy = await runCli(['deploy', suite.inventory]);
    assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);
    // babeld needs a few hellos after a deploy before every link counts as up.
    const healthy = await waitFor(async () => (await runCli(['status', suite.inventory, '--json'])).code === 0, 60_000, 1000);
    assert.ok(healthy, 'the lab never became healthy');

    const exporterPort = await freePort();
    exporter = start(process.execPath, [CLI, 'exporter', suite.inventory, '--listen', `127.0.0.1:${exporterPort}`, '--interval', '2']);
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const config = join(work, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - { job_name: rait, static_configs: [{ targets: ["127.0.0.1:${exporterPort}"] }] }`,
        '',
      ].join('\n'),
    );
    prometheus = start('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const ready = await waitFor(
      () =>
        fetch(`${promUrl}/-/ready`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      200,
    );
    assert.ok(ready, `Prometheus did not become ready\n${logs()}`);
  });

  after(async () => {
    await stop(exporter);
    await stop(prometheus);
    rmSync(work, { recursive: true, force: true });
  });

  it('sees every link up by node names, then exactly the link whose interface was deleted down', async (t) => {
    const all = ['n1->n2', 'n1->n3', 'n2->n1', 'n2->n3', 'n3->n1', 'n3->n2'];
    let up: PromSample[] = [];
    const scraped = await waitFor(async () => links((up = await query('rait_link_up == 1'))).join() === all.join(), 30_000, 500);
    assert.ok(scraped, `Prometheus never saw the 6 links up: ${JSON.stringify(up)}\n${logs()}`);
    assert.deepEqual(up[0]!.metric.job, 'rait');
    const [round] = await query('rait_status_round_duration_seconds');
    t.diagnostic(`exporter status round on the 3-node lab: ${round?.value[1]} s`);

    const gone = `rait${readState(suite.statePath).nodes.n2!.sendPort}`;
    const del = await labExec(suite.lab, 'n1', ['ip', 'link', 'del', gone]);
    assert.equal(del.code, 0, del.stderr);

    let down: PromSample[] = [];
    const seen = await waitFor(async () => links((down = await query('rait_link_up == 0'))).join() === 'n1->n2', 30_000, 500);
    assert.ok(seen, `rait_link_up == 0 never became exactly n1->n2: ${JSON.stringify(down)}\n${logs()}`);
    assert.equal(down[0]!.metric.interface, gone);
    assert.deepEqual(
      (await query('rait_node_up')).map((s) => s.value[1]),
      ['1', '1', '1'],
      'the nodes still answer',
    );
  });
});
