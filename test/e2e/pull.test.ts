// Pull mode on a real 5-node lab (issue 16): the control machine serves the published directory over
// HTTP on the lab bridge's address (the signature, not TLS, is what is tested), four nodes enrolled by
// deploy build their links to a fifth by `rait-fleet-agent pull` alone, run inside each node with no
// SSH; a replayed, a tampered and a foreign registry are refused with the links untouched. Root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { labExec, type Lab } from '../../src/lab/index.js';
import type { ApplyReport } from '../../src/agent/report.js';
import { parseReport } from '../../src/agent/validate.js';
import { readState } from '../../src/state/store.js';
import type { StatusDocument } from '../../src/status/format.js';
import { editInventory, outcomes, runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { managedLinks } from './mesh-facts.js';

/** A static file server for `root`, on `address` only: what a web host or object store does with the directory. */
function serveDirectory(root: string, address: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = resolve(root, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`);
    let ok: boolean;
    try {
      ok = path.startsWith(root + sep) && statSync(path).isFile();
    } catch {
      ok = false;
    }
    if (req.method !== 'GET' || !ok) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    createReadStream(path).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, address, () => done(server));
  });
}

describe('pull mode: nodes follow a signed registry served over HTTP', () => {
  const suite = labSuite('pull', 5);
  const { inventory, statePath, work } = suite;
  const www = join(work, 'www');
  const out = join(www, 'rait');
  let lab: Lab;
  let server: Server | undefined;
  /** n5's entry of the inventory lab up wrote: it joins the fleet in the second test. */
  let n5Entry: unknown;

  /** `rait-fleet-agent pull` inside the node: the control machine only serves files. */
  const pull = async (node: string): Promise<{ code: number | null; report: ApplyReport; stderr: string }> => {
    const r = await labExec(lab, node, ['/etc/rait/rait-fleet-agent', 'pull']);
    return { code: r.code, report: parseReport(r.stdout, 'pull') as ApplyReport, stderr: r.stderr };
  };
  const status = async (): Promise<StatusDocument> => JSON.parse((await runCli(['status', inventory, '--json'])).stdout) as StatusDocument;
  const linkName = (node: string): string => `rait${readState(statePath).nodes[node]!.sendPort}`;
  const publish = async (inv = inventory, dir = out): Promise<void> => {
    const r = await runCli(['publish', inv, '--out', dir]);
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    lab = suite.lab;
    mkdirSync(out, { recursive: true });
    const bridge = lab.bridgeAddress.split('/')[0]!;
    server = await serveDirectory(www, bridge);
    const { port } = server.address() as AddressInfo;
    // Four nodes first, in pull mode; n5 joins later.
    editInventory(inventory, (doc) => {
      n5Entry = doc.getIn(['nodes', 'n5'], true);
      doc.deleteIn(['nodes', 'n5']);
      doc.setIn(['mesh', 'pull'], doc.createNode({ url: `http://${bridge}:${port}/rait`, interval: 60 }));
    });
    const deployed = await runCli(['deploy', inventory, '--json']);
    assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
    await publish();
  });
  after(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  it('the enrolled nodes accept the first registry: verified, nothing to change, and status shows the serial', async () => {
    for (const node of ['n1', 'n2', 'n3', 'n4']) {
      const r = await pull(node);
      assert.equal(r.code, 0, `${node}: ${r.report.error} ${r.stderr}`);
      assert.deepEqual([r.report.links.added, r.report.links.removed], [[], []], node);
      assert.equal(r.report.links.kept.length, 3);
    }
    const again = await pull('n1');
    assert.equal(again.code, 0);
    assert.match(again.stderr, /registry serial 1: already applied/);
    const doc = await status();
    assert.deepEqual(
      doc.nodes.map((n) => [n.node, n.registry?.serial]),
      [
        ['n1', 1],
        ['n2', 1],
        ['n3', 1],
        ['n4', 1],
      ],
    );
  });

  it('a node without curl pulls with wget: the same verified registry', async () => {
    // curl hidden from this one run only: a mount namespace of its own (unshare makes its mounts
    // private), where /usr/bin/curl is /dev/null, which is not executable.
    const curl = (await labExec(lab, 'n2', ['sh', '-c', 'command -v curl'])).stdout.trim();
    assert.ok(curl.startsWith('/'), `curl not found on n2: ${curl}`);
    const r = await labExec(lab, 'n2', [
      'unshare',
      '-m',
      'sh',
      '-c',
      `mount --bind /dev/null ${curl} && exec /etc/rait/rait-fleet-agent pull -v`,
    ]);
    const report = parseReport(r.stdout, 'pull') as ApplyReport;
    assert.equal(r.code, 0, `${report.error} ${r.stderr}`);
    assert.match(r.stderr, /\[#\] wget -q -T 60 -O /);
    assert.doesNotMatch(r.stderr, /\[#\] curl /);
    assert.match(r.stderr, /registry serial 1: already applied/);
  });

  it('a fifth node: keygen, deploy --limit n5, publish — the four build their links to it by pull alone', async () => {
    editInventory(inventory, (doc) => doc.setIn(['nodes', 'n5'], n5Entry));
    assert.equal((await runCli(['keygen', inventory])).code, 0);
    const deployed = await runCli(['deploy', inventory, '--limit', 'n5', '--json']);
    assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
    assert.equal(outcomes(deployed.stdout).get('n5')!.result, 'changed');
    copyFileSync(join(out, 'nodes', 'n1'), join(work, 'n1.serial1'));
    await publish();

    const toN5 = linkName('n5');
    for (const node of ['n1', 'n2', 'n3', 'n4']) {
      const r = await pull(node);
      assert.equal(r.code, 0, `${node}: ${r.report.error} ${r.stderr}`);
      assert.deepEqual(r.report.links.added, [toN5], node);
      assert.ok((await managedLinks(lab, node)).has(toN5), node);
    }
    // n5 was deployed with this very plan: its pull changes nothing.
    const n5 = await pull('n5');
    assert.equal(n5.code, 0, n5.report.error);
    assert.deepEqual(n5.report.links.added, []);

    let last: StatusDocument | undefined;
    const healthy = await waitFor(async () => ((last = await status()), last.healthy), 90_000, 3000);
    assert.ok(healthy, `status stayed degraded: ${JSON.stringify(last?.problems)}`);
    assert.deepEqual(
      last!.nodes.map((n) => n.registry?.serial),
      [2, 2, 2, 2, 2],
    );
  });

  it('a replayed, a tampered and a foreign registry are refused, with the links untouched', async () => {
    const served = join(out, 'nodes', 'n1');
    const current = readFileSync(served, 'utf8');
    const before = await managedLinks(lab, 'n1');
    const untouched = async (reason: RegExp): Promise<void> => {
      const r = await pull('n1');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.report.error!, reason);
      assert.deepEqual(await managedLinks(lab, 'n1'), before, 'links changed');
    };

    copyFileSync(join(work, 'n1.serial1'), served);
    await untouched(/serial 1 is not newer than serial 2, which this node runs/);

    // One peer's key swapped for another's inside the signed content.
    const state = readState(statePath);
    writeFileSync(served, current.replace(` ${state.nodes.n2!.publicKey} `, ` ${state.nodes.n3!.publicKey} `));
    await untouched(/its signature does not verify/);

    // Another fleet: its own state file, so its own signing key, and a higher serial.
    const otherInventory = join(work, 'other.yaml');
    copyFileSync(inventory, otherInventory);
    for (let i = 0; i < 3; i++) await publish(otherInventory, join(work, 'other'));
    copyFileSync(join(work, 'other', 'nodes', 'n1'), served);
    await untouched(/a key this node does not trust/);

    const doc = await status();
    const n1 = doc.nodes.find((n) => n.node === 'n1')!;
    assert.equal(n1.registry?.serial, 2);
    writeFileSync(served, current);
    const r = await pull('n1');
    assert.equal(r.code, 0, r.report.error);
    assert.match(r.stderr, /already applied/);
  });
});
