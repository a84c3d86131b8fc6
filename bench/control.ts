// The control side as the fleet grows: a lab of many nodes that are only sshd and a stub agent, so
// the nodes cost next to nothing and what is measured is rait-fleet's own CPU per node and its wall
// time as --forks grows. The stub (a forced command in each node's authorized_keys) reads all of
// stdin first, as the agent does, then prints a canned, valid report made from that node's plan: a
// deploy that changed nothing, and a healthy status (every link up with a fresh handshake and a babel
// neighbour, every file's hash the plan's), so status analyses a full mesh.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labUp, type Lab } from '../src/lab/index.js';
import { planMesh, renderFilesOf } from '../src/mesh/plan.js';
import { loadTemplates } from '../src/mesh/templates.js';
import { CONFIG_FILES, type NodePlan } from '../src/mesh/types.js';
import { openFleet } from '../src/state/fleet.js';
import { interleaved, type Case, type CostSample } from './rounds.js';
import { mustMeasure } from './measure.js';
import type { Teardown } from './teardown.js';

export const CONTROL_FORKS = [8, 32, 128] as const;

export interface ControlPaths {
  node: string;
  cli: string;
  stackFloor: string;
  work: string;
}

export interface ControlResult {
  nodes: number;
  /** Keys: `deploy:<forks>`, `status:<forks>`, `floor` (ssh2 true on every node at once), `one` (deploy --limit n1). */
  costs: Map<string, CostSample>;
}

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

/** Reads stdin to its end, then answers as the agent would (SSH_ORIGINAL_COMMAND: sh -s -- MODE). */
const STUB = `# rait-fleet benchmark stub agent: reads all of stdin, prints a canned report.
cat >/dev/null
case $SSH_ORIGINAL_COMMAND in
true) exit 0 ;;
*' status'*) exec cat /root/rfstub.status ;;
*) exec cat /root/rfstub.deploy ;;
esac
`;

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

function deployReport(np: NodePlan): string {
  return JSON.stringify({
    agent: 1,
    mode: 'deploy',
    ok: true,
    wireguard: 'wireguard-go',
    persistence: 'none',
    files: ['rait.conf', 'peers.conf', 'babeld.conf', 'rait-fleet-agent'].map((name) => ({ name, changed: false })),
    links: { added: [], updated: [], removed: [], kept: np.links.map((l) => l.name), failed: [] },
    babeld: 'unchanged',
    notes: [],
  });
}

function statusReport(np: NodePlan): string {
  const hashes = Object.fromEntries(CONFIG_FILES.flatMap((f) => (np.files[f] === undefined ? [] : [[f, sha256(np.files[f])]])));
  return JSON.stringify({
    agent: 1,
    mode: 'status',
    ok: true,
    wireguard: 'wireguard-go',
    versions: { wg: 'v1.0.20210914', babeld: '1.12.1', kernel: '6.1.0' },
    configHashes: hashes,
    links: np.links.map((l) => ({
      name: l.name,
      publicKey: l.peerPublicKey,
      listenPort: l.listenPort,
      endpoint: `${l.endpointHost}:${l.endpointPort}`,
      handshakeAge: 42,
      rxBytes: 123456,
      txBytes: 123456,
      mtu: 1400,
      up: true,
    })),
    linkErrors: {},
    babel: {
      running: true,
      configHash: hashes['babeld.conf'] ?? null,
      neighbours: np.links.map((l) => ({
        interface: l.name,
        address: l.linkLocal.split('/')[0],
        rxcost: 96,
        txcost: 96,
        cost: 96,
        rtt: 0.5,
        reach: 'ffff',
      })),
      routes: np.links.length,
    },
    persistence: { via: 'none', enabled: false, lastRun: null, lastKind: null, healsChanged: 0, lastHealChange: '' },
  });
}

/** Turns every node of `lab` into sshd + the stub, answering for `inventory`'s plan. */
export async function installStubs(lab: Lab, inventory: string): Promise<void> {
  const { inventory: inv, state } = await openFleet(inventory, () => {});
  const plan = planMesh(inv, state, loadTemplates(inv));
  renderFilesOf(plan, inv.nodes);
  for (const node of lab.nodes) {
    const np = plan.nodes.find((x) => x.node.name === node.name)!;
    const home = join(node.dir, 'root-home');
    writeFileSync(join(home, 'rfstub'), STUB, { mode: 0o600 });
    writeFileSync(join(home, 'rfstub.deploy'), `${deployReport(np)}\n`, { mode: 0o600 });
    writeFileSync(join(home, 'rfstub.status'), `${statusReport(np)}\n`, { mode: 0o600 });
    const keys = join(home, '.ssh', 'authorized_keys');
    const key = readFileSync(keys, 'utf8').trim().split('\n').pop()!;
    writeFileSync(
      keys,
      `command="sh /root/rfstub",no-pty,no-port-forwarding,no-agent-forwarding ${key.replace(/^command="[^"]*"\S* /, '')}\n`,
      {
        mode: 0o600,
      },
    );
  }
}

/** A lab of `size` stub nodes; `rounds` interleaved rounds of deploy and status at each of CONTROL_FORKS. */
export async function benchControl(p: ControlPaths, size: number, rounds: number, teardown: Teardown): Promise<ControlResult> {
  const name = 'bctl';
  const inv = join(p.work, `${name}.yaml`);
  const started = Date.now();
  const lab = await labUp({ nodes: size, name, inventory: inv, dir: join(p.work, name), log: () => {} });
  const down = teardown.add(`lab ${name}`, async () => void (await labDown(name, lab.dir)));
  say(`control: ${size} stub nodes up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    // 128 handshakes at once share 2 cores with 128 sshds: give connect + handshake room.
    writeFileSync(inv, readFileSync(inv, 'utf8').replace(/connect_timeout: \d+/, 'connect_timeout: 60'));
    const cli = (...args: string[]) => [p.node, p.cli, ...args];
    await mustMeasure(cli('keygen', inv));
    await installStubs(lab, inv);
    const cases: Case[] = [
      { key: 'floor', argv: [p.node, p.stackFloor, inv] },
      { key: 'one', argv: cli('deploy', inv, '--limit', 'n1') },
      ...CONTROL_FORKS.flatMap((f): Case[] => [
        { key: `deploy:${f}`, argv: cli('deploy', inv, '--forks', String(f)) },
        { key: `status:${f}`, argv: cli('status', inv, '--forks', String(f)) },
      ]),
    ];
    const sshdPids = lab.nodes.map((n) => n.sshdPid!);
    const costs = await interleaved(cases, rounds, { sshdPids, log: (m) => say(`control: ${m}`) });
    return { nodes: size, costs };
  } finally {
    await down();
  }
}
