// The kernel path (issue 19) on Debian's stock kernel: kernel WireGuard links, isolation netns and vrf,
// and moving between them, with the real CLI, sshd, agent and babeld on a 3-node lab. Only kernel
// WireGuard can make a link where this runs: `npm run test:kernel` boots the VM of scripts/kernel-vm.sh
// with wireguard-go hidden, and the suite refuses to run anywhere else (it would pass on wireguard-go).
//
// One lab goes through every mode, as an operator would move a mesh:
//   none → none again (a no-op) → netns → vrf with an interface VRF (babeld off; on is refused)
//   → vrf with a transit VRF → none → down,
// and after each step the node is compared with a snapshot taken before the first deploy: only what the
// new mode needs is there (its links, namespaces, VRF devices, fwmark rules, one babeld beside the
// links), nothing of the old mode. Each step says how long its parts took (TCG is slow: a CLI run costs
// seconds).
import { before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import type { StatusDocument } from '../../src/status/format.js';
import { editInventory, outcomes, runCli, waitFor, type CliResult } from '../e2e/cli-helpers.js';
import { labSuite } from '../e2e/lab-suite.js';
import { configDir, expectedLinks } from '../e2e/mesh-facts.js';
import {
  assertKernelOnly,
  babeldsOf,
  handshakes,
  L3MDEV_RULES,
  linkLine,
  linksOf,
  managedOf,
  netnsId,
  onNode,
  processes,
  snapshot,
  udpPorts,
  type NodeSnapshot,
} from './kernel-node.js';

const NODES = 3;
/** The interface namespace the agent makes, and the transit namespace the test makes (with a way out). */
const NS_IF = 'kif';
const NS_TR = 'ktr';
/** The interface VRF and the transit VRF, both made by the agent. */
const VRF_IF = 'kvrf';
const VRF_TR = 'ktv';
/** Generous: under TCG a CLI run takes 5–10 s and babeld needs a few 4 s hellos. */
const HANDSHAKES_MS = 90_000;
const ROUTES_MS = 120_000;
const HEALTHY_MS = 180_000;

/** Where a mode puts things, for the check after each step. */
interface Expect {
  /** Namespace of the managed links; undefined: the node's own. */
  linksNs?: string;
  /** The master every managed link has ("-": none). */
  master: string;
  /** Named namespaces besides the snapshot's. */
  netns: string[];
  /** VRF devices in the node's namespace. */
  vrfs: string[];
  /** Policy rules besides the snapshot's (and the kernel's l3mdev rules), as snapshot() writes them. */
  rules: string[];
  /** Unreachable routes besides the snapshot's, as snapshot() writes them; none when left out. */
  unreachable?: string[];
  /** babeld runs, beside the links. */
  babeld: boolean;
  /** No managed link at all (after down). */
  noLinks?: boolean;
}

async function timed<T>(t: TestContext, what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

describe(`the kernel path on a ${NODES}-node lab: kernel WireGuard, netns, vrf, and moving between them`, () => {
  let kernel = '';
  let labStarted = 0;
  let labUpSeconds = '';
  // Before the lab comes up: nothing is made where the suite cannot mean anything.
  before(() => {
    kernel = assertKernelOnly();
    labStarted = Date.now();
  });
  const suite = labSuite('kernel', NODES);
  const { inventory, statePath } = suite;
  let lab: Lab;
  const snapshots = new Map<string, NodeSnapshot>();
  /** A VRF was made on the nodes: from then on the kernel's l3mdev rules stay (docs/kernel-vm.md). */
  let vrfSeen = false;

  before(async () => {
    lab = suite.lab;
    labUpSeconds = ((Date.now() - labStarted) / 1000).toFixed(1);
    // The lab's 5 s is tight under TCG, where an SSH session takes 2–5 s on a loaded VM.
    editInventory(inventory, (doc) => doc.setIn(['ssh', 'connect_timeout'], 30));
    for (const n of lab.nodes) snapshots.set(n.name, await snapshot(lab, n.name));
  });

  const names = (node: string): string[] => expectedLinks(lab, readState(statePath), node);
  /** The ports a node's links listen on: the link to peer Y is rait + Y's SendPort and listens there. */
  const listenPorts = (node: string): number[] => names(node).map((n) => Number(n.slice('rait'.length)));

  const deploy = async (t: TestContext, what = 'deploy'): Promise<CliResult> => {
    const r = await timed(t, what, () => runCli(['deploy', inventory, '--json']));
    assert.equal(r.code, 0, `deploy exit ${r.code}: ${r.stderr}${r.stdout}`);
    for (const o of outcomes(r.stdout).values()) {
      assert.ok(o.result === 'changed' || o.result === 'unchanged', `${o.node}: ${o.result}: ${o.error}`);
      assert.equal(o.wireguard, 'kernel', `${o.node} made its links with ${o.wireguard}`);
    }
    return r;
  };

  /** The node holds what `e` says and, beside it, exactly what it had before the first deploy. */
  const assertOnly = async (t: TestContext, e: Expect): Promise<void> => {
    await timed(t, 'checked every node against its snapshot', async () => {
      assert.deepEqual(
        processes('wireguard-go').map((p) => p.pid),
        [],
        'a wireguard-go runs',
      );
      await Promise.all(
        lab.nodes.map(async (n) => {
          const was = snapshots.get(n.name)!;
          const now = await snapshot(lab, n.name);
          assert.deepEqual(now.netns, [...was.netns, ...e.netns].sort(), `${n.name}: named namespaces`);
          assert.deepEqual(
            now.links,
            [...was.links, ...e.vrfs.map((v) => linkLine({ name: v, kind: 'vrf', master: '-' }))].sort(),
            `${n.name}: links`,
          );
          const l3mdev = vrfSeen ? L3MDEV_RULES.filter((r) => !was.rules.includes(r)) : [];
          assert.deepEqual(now.rules, [...was.rules, ...l3mdev, ...e.rules].sort(), `${n.name}: policy rules`);
          assert.deepEqual(now.unreachable, [...was.unreachable, ...(e.unreachable ?? [])].sort(), `${n.name}: unreachable routes`);

          // The mesh's links: all planned ones, kernel WireGuard, with the mode's master, in the mode's
          // namespace and in no other.
          const here = await managedOf(lab, n.name);
          const there = e.linksNs ? await managedOf(lab, n.name, e.linksNs) : here;
          if (e.linksNs) assert.deepEqual(here, [], `${n.name}: managed links outside ${e.linksNs}`);
          assert.deepEqual(
            there.map(linkLine).sort(),
            e.noLinks ? [] : names(n.name).map((name) => linkLine({ name, kind: 'wireguard', master: e.master })),
            `${n.name}: managed links${e.linksNs ? ` in ${e.linksNs}` : ''}`,
          );

          const babelds = babeldsOf(lab, n.name);
          if (!e.babeld) assert.deepEqual(babelds, [], `${n.name}: babeld still runs`);
          else {
            assert.equal(babelds.length, 1, `${n.name}: babelds ${JSON.stringify(babelds)}`);
            assert.equal(babelds[0]!.net, await netnsId(lab, n.name, e.linksNs), `${n.name}: babeld is not beside the links`);
          }
        }),
      );
    });
  };

  /** Runs a command on a node whose failure does not matter (it only makes traffic). */
  const quietly = (node: string, argv: string[]): Promise<unknown> =>
    onNode(lab, node, ['sh', '-c', '"$@" >/dev/null 2>&1; true', 'quietly', ...argv]);

  /** Every managed link of every node has had a handshake; `poke` makes traffic when nothing else does. */
  const waitHandshakes = (t: TestContext, ns?: string, poke?: (node: string, link: string) => Promise<unknown>): Promise<void> =>
    timed(t, 'every link had a handshake', async () => {
      let without: string[] = [];
      await waitFor(
        async () => {
          const seen = await Promise.all(lab.nodes.map((n) => handshakes(lab, n.name, ns)));
          without = lab.nodes.flatMap((n, i) =>
            names(n.name)
              .filter((link) => !seen[i]!.get(link))
              .map((link) => `${n.name}/${link}`),
          );
          if (poke) await Promise.all(without.map((w) => poke(w.split('/')[0]!, w.split('/')[1]!)));
          return without.length === 0;
        },
        HANDSHAKES_MS,
        2000,
      );
      assert.deepEqual(without, [], 'links without a handshake');
    });

  /** Every node pings every other node's loopback over the overlay, on a route babeld installed. */
  const waitRoutes = (t: TestContext, ns?: string): Promise<void> =>
    timed(t, 'every loopback answers over the overlay', async () => {
      const pairs = lab.nodes.flatMap((a) => lab.nodes.filter((b) => b !== a).map((b) => [a, b] as const));
      let failing: string[] = [];
      await waitFor(
        async () => {
          const results = await Promise.all(
            pairs.map(async ([a, b]) => {
              const ping = ['ping', '-c', '1', '-W', '2', b.loopback.split('/')[0]!];
              const r = await onNode(lab, a.name, ['sh', '-c', '"$@" >/dev/null 2>&1; echo $?', 'ping', ...ping], ns);
              return r.trim() === '0' ? undefined : `${a.name}->${b.name}`;
            }),
          );
          failing = results.filter((x): x is string => x !== undefined);
          return failing.length === 0;
        },
        ROUTES_MS,
        2000,
      );
      assert.deepEqual(failing, [], 'loopbacks that do not answer');
      await Promise.all(
        pairs.map(async ([a, b]) => {
          const route = await onNode(lab, a.name, ['ip', '-6', 'route', 'show', b.loopback], ns);
          assert.match(route, /proto babel/, `${a.name}: route to ${b.loopback}: ${route}`);
        }),
      );
    });

  /** `status` is healthy (exit 0), every link up. */
  const waitHealthy = (t: TestContext): Promise<void> =>
    timed(t, 'status healthy', async () => {
      let last: StatusDocument | undefined;
      let lastErr = '';
      const ok = await waitFor(
        async () => {
          const r = await runCli(['status', inventory, '--json']);
          lastErr = r.stderr;
          last = r.stdout.startsWith('{') ? (JSON.parse(r.stdout) as StatusDocument) : undefined;
          return r.code === 0;
        },
        HEALTHY_MS,
        2000,
      );
      const notUp = last?.links.filter((l) => l.status !== 'up' && l.status !== 'not-expected');
      assert.ok(ok, `status stayed degraded: ${JSON.stringify(notUp ?? lastErr)} ${JSON.stringify(last?.problems)}`);
      assert.equal(last!.links.filter((l) => l.status === 'up').length, NODES * (NODES - 1));
    });

  /**
   * A node's underlay address for the mesh when the transit side is not the node's own namespace: a
   * macvlan on its eth0, in the lab's /24 (whose nodes are .1–.3 and bridge .254).
   */
  const transitAddress = (i: number): string => lab.nodes[i]!.address.replace(/\.\d+$/, `.${101 + i}`);
  const setEndpoints = (on: boolean): void =>
    editInventory(inventory, (doc) =>
      lab.nodes.forEach((n, i) =>
        on ? doc.setIn(['nodes', n.name, 'endpoint'], transitAddress(i)) : doc.deleteIn(['nodes', n.name, 'endpoint']),
      ),
    );

  /** The links a deploy that moved them reports: each node's removed where they were and added again. */
  const assertMoved = (r: CliResult): void => {
    for (const o of outcomes(r.stdout).values()) {
      assert.equal(o.result, 'changed', o.node);
      assert.deepEqual([[...o.links!.removed].sort(), [...o.links!.added].sort()], [names(o.node), names(o.node)], o.node);
    }
  };

  it('runs on kernel WireGuard, without wireguard-go', (t) => {
    assert.notEqual(kernel, '', 'the kernel check did not run');
    t.diagnostic(`kernel ${kernel}, wireguard and vrf modules loaded, no wireguard-go`);
    t.diagnostic(`lab up (${NODES} nodes): ${labUpSeconds} s`);
  });

  it('isolation none: kernel links, a handshake on each, babeld routes every loopback, status healthy', async (t) => {
    const r = await deploy(t);
    for (const o of outcomes(r.stdout).values()) assert.deepEqual([o.result, [...o.links!.added].sort()], ['changed', names(o.node)]);
    await assertOnly(t, { master: '-', netns: [], vrfs: [], rules: [], babeld: true });
    await waitHandshakes(t);
    await waitRoutes(t);
    await waitHealthy(t);
  });

  it('a second deploy reports every node unchanged and keeps every ifindex and babeld', async (t) => {
    const indexes = async (): Promise<string[]> =>
      (await Promise.all(lab.nodes.map(async (n) => (await managedOf(lab, n.name)).map((l) => `${n.name} ${l.name} ${l.index}`)))).flat();
    const babeldPids = (): Promise<string[]> =>
      Promise.all(lab.nodes.map((n) => onNode(lab, n.name, ['cat', '/run/rait-fleet/babeld.pid'])));
    const [linksBefore, babeldBefore] = [await indexes(), await babeldPids()];
    const r = await deploy(t, 'no-op deploy');
    for (const o of outcomes(r.stdout).values()) {
      assert.equal(o.result, 'unchanged', `${o.node}: ${JSON.stringify(o)}`);
      assert.deepEqual([...o.links!.kept].sort(), names(o.node));
    }
    assert.deepEqual(await indexes(), linksBefore, 'links were made again');
    assert.deepEqual(await babeldPids(), babeldBefore, 'babeld was restarted');
  });

  it('isolation netns: links in the interface namespace, their sockets in the transit one, babeld beside the links, routes, healthy', async (t) => {
    // The transit namespace is the test's, with a way out: a macvlan on the node's eth0 with an
    // address of its own, which the peers use as the endpoint (the node's SSH address stays where it is).
    // The agent makes the interface namespace.
    await timed(t, `made ${NS_TR} with a macvlan on eth0 on every node`, () =>
      Promise.all(
        lab.nodes.map(async (n, i) => {
          for (const argv of [
            ['ip', 'netns', 'add', NS_TR],
            ['ip', 'link', 'add', `${NS_TR}0`, 'link', 'eth0', 'type', 'macvlan', 'mode', 'bridge'],
            ['ip', 'link', 'set', `${NS_TR}0`, 'netns', NS_TR],
            ['ip', '-n', NS_TR, 'address', 'add', `${transitAddress(i)}/24`, 'dev', `${NS_TR}0`],
            ['ip', '-n', NS_TR, 'link', 'set', `${NS_TR}0`, 'up'],
            ['ip', '-n', NS_TR, 'link', 'set', 'lo', 'up'],
          ])
            await onNode(lab, n.name, argv);
        }),
      ),
    );
    editInventory(inventory, (doc) => {
      doc.setIn(['mesh', 'isolation'], 'netns');
      doc.setIn(['mesh', 'interface_namespace'], NS_IF);
      doc.setIn(['mesh', 'transit_namespace'], NS_TR);
    });
    setEndpoints(true);
    const r = await deploy(t);
    assertMoved(r);
    await assertOnly(t, { linksNs: NS_IF, master: '-', netns: [NS_IF, NS_TR], vrfs: [], rules: [], babeld: true });
    for (const n of lab.nodes) {
      const want = listenPorts(n.name);
      const [transit, iface, own] = [await udpPorts(lab, n.name, NS_TR), await udpPorts(lab, n.name, NS_IF), await udpPorts(lab, n.name)];
      assert.deepEqual(
        want.filter((p) => !transit.has(p)),
        [],
        `${n.name}: ports not listening in ${NS_TR}`,
      );
      assert.deepEqual(
        want.filter((p) => iface.has(p) || own.has(p)),
        [],
        `${n.name}: WireGuard sockets outside ${NS_TR}`,
      );
      // The overlay address lives beside the links, where babeld announces it.
      await onNode(lab, n.name, ['ip', '-n', NS_IF, 'address', 'add', n.loopback, 'dev', 'lo']);
    }
    await waitHandshakes(t, NS_IF);
    await waitRoutes(t, NS_IF);
    await waitHealthy(t);
  });

  it('isolation vrf with an interface VRF and babeld on is refused: exit 2, naming mesh.interface_namespace', async (t) => {
    editInventory(inventory, (doc) => {
      doc.setIn(['mesh', 'isolation'], 'vrf');
      doc.setIn(['mesh', 'interface_namespace'], VRF_IF);
      doc.setIn(['mesh', 'transit_namespace'], '');
    });
    setEndpoints(false);
    const before = (await Promise.all(lab.nodes.map((n) => managedOf(lab, n.name, NS_IF)))).flat();
    const r = await timed(t, 'refused deploy', () => runCli(['deploy', inventory]));
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /mesh\.interface_namespace: babeld cannot route over links enslaved to a VRF/);
    assert.deepEqual((await Promise.all(lab.nodes.map((n) => managedOf(lab, n.name, NS_IF)))).flat(), before, 'a node was touched');
  });

  it('isolation vrf with an interface VRF, babeld off: every link enslaved to it, handshakes, healthy; the netns mode is gone', async (t) => {
    editInventory(inventory, (doc) => doc.setIn(['mesh', 'babeld', 'enabled'], false));
    const r = await deploy(t);
    assertMoved(r);
    vrfSeen = true;
    // The agent removed the namespace it made and left the one it did not: the test removes that.
    await assertOnly(t, { master: VRF_IF, netns: [NS_TR], vrfs: [VRF_IF], rules: [], babeld: false });
    await Promise.all(lab.nodes.map((n) => onNode(lab, n.name, ['ip', 'netns', 'del', NS_TR])));
    await assertOnly(t, { master: VRF_IF, netns: [], vrfs: [VRF_IF], rules: [], babeld: false });
    // Without babeld nothing sends: a ping to all nodes on the link makes WireGuard shake hands.
    await waitHandshakes(t, undefined, (node, link) => quietly(node, ['ping', '-6', '-c', '1', '-W', '1', '-I', link, 'ff02::1']));
    await waitHealthy(t);
  });

  it('isolation vrf with a transit VRF holding the underlay, babeld on: links in the main table, WireGuard routed by the VRF, healthy', async (t) => {
    editInventory(inventory, (doc) => {
      doc.setIn(['mesh', 'interface_namespace'], '');
      doc.setIn(['mesh', 'transit_namespace'], VRF_TR);
      doc.setIn(['mesh', 'babeld', 'enabled'], true);
    });
    setEndpoints(true);
    const r = await deploy(t);
    assertMoved(r);
    // WireGuard's sockets are not in the VRF: what arrives on its slaves reaches them only with
    // net.ipv4.udp_l3mdev_accept=1, which the agent sets and says so.
    assert.match(r.stdout + r.stderr, /set net\.ipv4\.udp_l3mdev_accept=1/);
    for (const n of lab.nodes)
      assert.equal((await onNode(lab, n.name, ['sysctl', '-n', 'net.ipv4.udp_l3mdev_accept'])).trim(), '1', `${n.name}: udp_l3mdev_accept`);
    const tables = await Promise.all(lab.nodes.map(async (n) => (await linksOf(lab, n.name)).find((l) => l.name === VRF_TR)?.table));
    assert.ok(
      tables.every((x) => x !== undefined && x === tables[0]),
      `${VRF_TR}'s table on each node: ${tables.join(', ')}`,
    );
    const fwmark = (f: string): string => `${f} from all fwmark 0x36 lookup ${tables[0]}`;
    // What the VRF's table cannot route ends there, instead of leaving by the main table's default.
    const unreachable = [
      `4 unreachable default table ${tables[0]} metric 4278198272`,
      `6 unreachable default dev lo table ${tables[0]} metric 4278198272 pref medium`,
    ];
    await assertOnly(t, { master: '-', netns: [], vrfs: [VRF_TR], rules: [fwmark('4'), fwmark('6')], unreachable, babeld: true });

    // The transit VRF gets the underlay the peers send to: a macvlan on eth0 with the node's endpoint
    // address, enslaved to the VRF (the node's SSH address stays on eth0, outside it).
    const underlay = `${VRF_TR}0`;
    try {
      await timed(t, `put a macvlan into ${VRF_TR} on every node`, () =>
        Promise.all(
          lab.nodes.map(async (n, i) => {
            for (const argv of [
              ['ip', 'link', 'add', underlay, 'link', 'eth0', 'type', 'macvlan', 'mode', 'bridge'],
              ['ip', 'link', 'set', underlay, 'master', VRF_TR],
              ['ip', 'address', 'add', `${transitAddress(i)}/24`, 'dev', underlay],
              ['ip', 'link', 'set', underlay, 'up'],
            ])
              await onNode(lab, n.name, argv);
          }),
        ),
      );
      // WireGuard's packets carry the fwmark: the agent's rule sends them through the VRF's table.
      for (const [i, n] of lab.nodes.entries())
        for (const [j] of lab.nodes.entries()) {
          if (i === j) continue;
          const route = await onNode(lab, n.name, ['ip', 'route', 'get', transitAddress(j), 'mark', '0x36']);
          assert.match(
            route,
            new RegExp(`dev ${underlay} table ${tables[0]} src ${transitAddress(i).replace(/\./g, '\\.')} `),
            `${n.name}: ${route}`,
          );
        }
      await waitHandshakes(t);
      // And they left from the VRF's address: a peer that heard from another address would have moved
      // its endpoint there (WireGuard roams to the source of what it receives).
      for (const [i, n] of lab.nodes.entries()) {
        const endpoints = (await onNode(lab, n.name, ['wg', 'show', 'all', 'endpoints'])).split('\n').filter(Boolean);
        const want = lab.nodes.flatMap((_p, j) => (j === i ? [] : [`${transitAddress(j)}:`]));
        assert.deepEqual(endpoints.map((l) => /\t([\d.]+:)\d+$/.exec(l)?.[1]).sort(), want.sort(), `${n.name}: ${endpoints.join('; ')}`);
      }
      await waitRoutes(t);
      await waitHealthy(t);
    } finally {
      // The test's own underlay goes, also when the test fails; the agent's VRF then holds nothing of anyone's.
      await Promise.all(lab.nodes.map((n) => quietly(n.name, ['ip', 'link', 'del', underlay])));
    }
  });

  it('back to isolation none: no VRF device, fwmark rule or namespace of the vrf mode is left', async (t) => {
    editInventory(inventory, (doc) => {
      doc.setIn(['mesh', 'isolation'], 'none');
      doc.setIn(['mesh', 'transit_namespace'], '');
    });
    setEndpoints(false);
    assertMoved(await deploy(t));
    await assertOnly(t, { master: '-', netns: [], vrfs: [], rules: [], babeld: true });
  });

  it('down: every node is as it was before the first deploy', async (t) => {
    const r = await timed(t, 'down', () => runCli(['down', inventory, '--json']));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    await assertOnly(t, { master: '-', netns: [], vrfs: [], rules: [], babeld: false, noLinks: true });
    // Nothing is recorded as made any more.
    for (const n of lab.nodes) assert.equal(existsSync(join(configDir(n), 'made')), false, `${n.name}: made record left`);
  });
});
