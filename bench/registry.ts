// `npm run bench:registry`: pull mode at 1,000 synthetic nodes (issue 16). Control side: publish
// (the real publishRegistry, one process per repetition: time and peak RSS), the directory's size and
// one node's file (babeld on). Node side, what one pull costs: the GET (curl from a loopback HTTP server), the
// signature check (openssl), and the agent's whole `pull` on a made-up node whose recorded facts are
// exactly the 999 links of its plan — so its apply is a no-op — for a new serial, and for the same
// registry again. Prints a markdown table; asserts nothing. Needs curl and openssl (setup.sh).
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadInventory } from '../src/inventory/load.js';
import { loadTemplates } from '../src/mesh/templates.js';
import { planMesh } from '../src/mesh/plan.js';
import { publishRegistry } from '../src/registry/publish.js';
import { readState } from '../src/state/store.js';
import { MadeUpNode } from '../test/unit/agent-harness.js';
import { formatSample, markdownTable, summarize, type Sample } from './stats.js';

const NODES = Number(process.env.NODES ?? 1000);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** `registry.js --publish INVENTORY OUT`: one publish in this process; prints its time and peak RSS. */
async function publishOnce(inventory: string, out: string): Promise<void> {
  const t0 = performance.now();
  await publishRegistry(inventory, { out, expiresIn: 7 * 86400, switchSigningKey: false }, () => {});
  const ms = performance.now() - t0;
  console.log(`publish ${ms.toFixed(0)} ms, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

function inventoryText(configDir: string, port: number, babeld: boolean): string {
  const lines = [
    'mesh:',
    '  send_port_range: [40000, 49999]',
    `  config_dir: ${configDir}`,
    `  pull: { url: "http://127.0.0.1:${port}/rait" }`,
    `  babeld: { enabled: ${babeld} }`,
    'nodes:',
  ];
  for (let i = 1; i <= NODES; i++)
    lines.push(`  n${i}: { host: 10.${i >> 8}.${i & 255}.1, vars: { loopback: "fd00::${i.toString(16)}/128" } }`);
  return `${lines.join('\n')}\n`;
}

/**
 * What a node that runs its plan shows the agent (the recorded-facts format of test/fixtures/agent-facts):
 * each planned link as wireguard-go's TUN with its peer, endpoint, listen port and link-local address.
 */
function factsOf(inventory: string, node: string, dir: string): void {
  const inv = loadInventory(inventory);
  const state = readState(inv.statePath);
  const np = planMesh(inv, state, loadTemplates(inv)).nodes.find((n) => n.node.name === node)!;
  const now = Math.floor(Date.now() / 1000);
  const wg: string[] = [];
  const links: string[] = [];
  const addrs: string[] = [];
  np.links.forEach((l, i) => {
    const index = i + 3;
    wg.push(`${l.name}\t${np.keys.privateKey}\t${np.keys.publicKey}\t${l.listenPort}\t0x36`);
    wg.push(`${l.name}\t${l.peerPublicKey}\t(none)\t${l.endpointHost}:${l.endpointPort}\t0.0.0.0/0,::/0\t${now - 30}\t1000\t1000\toff`);
    links.push(
      `${index}: ${l.name}: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast state UNKNOWN mode DEFAULT group 54 qlen 500\\    link/none  promiscuity 0 \\    tun type tun pi on vnet_hdr off persist off addrgenmode none`,
    );
    addrs.push(`${index}: ${l.name}    inet6 ${l.linkLocal} scope link \\       valid_lft forever preferred_lft forever`);
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'wg'), `${wg.join('\n')}\n`);
  writeFileSync(join(dir, 'ip'), `${[...links, ...addrs].join('\n')}\n`);
  writeFileSync(join(dir, 'babel'), 'BABEL 1.0\nok\n');
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function bytes(dir: string): { total: number; files: number } {
  let total = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += statSync(join(entry.parentPath, entry.name)).size;
    files++;
  }
  return { total, files };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'rf-bench-registry-'));
  // The node n1: its facts (written once its keys exist) are the links of its plan.
  const facts = join(work, 'facts');
  const node = new MadeUpNode({ facts: { here: facts } });
  const server = createServer((req, res) => {
    const path = join(work, 'out', (req.url ?? '/').replace(/^\/rait\//, ''));
    try {
      res.writeHead(200).end(readFileSync(path));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  try {
    const { port } = server.address() as AddressInfo;
    const inventory = join(work, 'fleet.yaml');
    writeFileSync(inventory, inventoryText(node.configDir, port, true));
    execFileSync(process.execPath, [CLI, 'keygen', inventory], { stdio: 'ignore' });

    const out = join(work, 'out');
    const publishMs: number[] = [];
    const publishRss: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const r = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--publish', inventory, out], { encoding: 'utf8' });
      const m = /^publish (\d+) ms, peak RSS (\d+) MiB$/m.exec(r)!;
      publishMs.push(Number(m[1]));
      publishRss.push(Number(m[2]));
    }
    const size = bytes(out);
    const n1Bytes = statSync(join(out, 'nodes', 'n1')).size;
    const indexBytes = statSync(join(out, 'registry')).size;

    // n1: enrolled by a deploy of its plan onto facts that already match it. The made-up node has no
    // babeld: the node side runs the same fleet with babeld off (its file lacks babeld.conf, ~6 %).
    writeFileSync(inventory, inventoryText(node.configDir, port, false));
    factsOf(inventory, 'n1', facts);
    const inv = loadInventory(inventory);
    const plan = planMesh(inv, readState(inv.statePath), loadTemplates(inv));
    const enrolled = node;
    const deploy = enrolled.run({ mesh: plan.mesh, plan: plan.nodes[0]! });
    if (!deploy.report.ok || deploy.changes.includes('link add'))
      throw new Error(`the made-up node is not at its plan: ${deploy.report.error ?? deploy.changes}`);

    const url = `http://127.0.0.1:${port}/rait/nodes/n1`;
    // Not execFileSync: the server answers from this process's event loop.
    const get = async (): Promise<number> => {
      const t0 = performance.now();
      await promisify(execFile)('curl', ['-fsS', '-o', join(work, 'fetched'), url]);
      return performance.now() - t0;
    };
    const body = join(work, 'body');
    const [head, ...rest] = readFileSync(join(out, 'nodes', 'n1'), 'utf8').split('\n');
    writeFileSync(body, rest.join('\n'));
    writeFileSync(join(work, 'sig'), Buffer.from(head!.split(' ')[2]!, 'base64'));
    const signer = readState(inv.statePath).signing!.current.publicKey;
    writeFileSync(join(work, 'key.pem'), `-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA${signer}\n-----END PUBLIC KEY-----\n`);
    const verifyArgs = [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      join(work, 'key.pem'),
      '-rawin',
      '-in',
      body,
      '-sigfile',
      join(work, 'sig'),
    ];
    const verify = (): number => timed(() => execFileSync('openssl', verifyArgs, { stdio: 'ignore' }));
    const webFile = join(enrolled.web, 'rait', 'nodes', 'n1');
    mkdirSync(join(enrolled.web, 'rait', 'nodes'), { recursive: true });

    const samples: Record<string, number[]> = { get: [], verify: [], fresh: [], same: [], apply: [] };
    for (let i = 0; i < REPS; i++) {
      samples.get!.push(await get());
      samples.verify!.push(verify());
      // A new serial each time (publish again), so the agent verifies, unpacks and applies (a no-op).
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--publish', inventory, out], { stdio: 'ignore' });
      cpSync(join(out, 'nodes', 'n1'), webFile);
      let r!: ReturnType<MadeUpNode['resident']>;
      samples.fresh!.push(timed(() => (r = enrolled.resident(['pull']))));
      if (r.status !== 0 || r.changes !== '') throw new Error(`pull of a new serial was not a no-op: ${r.stderr} ${r.changes}`);
      samples.same!.push(timed(() => (r = enrolled.resident(['pull']))));
      if (!/already applied/.test(r.stderr)) throw new Error(`the same registry again was not recognised: ${r.stderr}`);
      samples.apply!.push(timed(() => enrolled.resident(['apply'])));
    }
    const s = (k: string): Sample => summarize(samples[k]!);
    const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
    const rows: [string, string][] = [
      [`publish ${NODES} nodes (publishRegistry in one process: plan, render, sign, write)`, formatSample(summarize(publishMs))],
      ['publish: peak RSS of the process', `${summarize(publishRss).median} MiB (${Math.min(...publishRss)}–${Math.max(...publishRss)})`],
      ['published directory', `${(size.total / 1048576).toFixed(0)} MiB in ${size.files} files`],
      ["one node's file (what its pull fetches)", kib(n1Bytes)],
      ['the index (registry; no node fetches it)', kib(indexBytes)],
      ["one node's GET (curl, loopback HTTP, whole process)", formatSample(s('get'))],
      ['signature check (openssl pkeyutl -verify, whole process)', formatSample(s('verify'))],
      [`agent pull, new serial: verify, unpack, no-op apply of ${NODES - 1} links`, formatSample(s('fresh'))],
      ['agent pull, same registry again: GET + compare, nothing applied', formatSample(s('same'))],
      ['agent apply alone (the no-op apply, for comparison)', formatSample(s('apply'))],
    ];
    console.log(markdownTable([`pull mode, ${NODES} synthetic nodes (median, min–max of ${REPS})`, 'value'], rows));
  } finally {
    server.close();
    node.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--publish') await publishOnce(process.argv[3]!, process.argv[4]!);
else await main();
