import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMesh, HANDSHAKE_FRESH_SECONDS } from '../../src/status/analyze.js';
import type { LinkHealth, MeshHealth } from '../../src/status/types.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const FOUR = ['n1', 'n2', 'n3', 'n4'];

const link = (h: MeshHealth, from: string, to: string): LinkHealth => {
  const l = h.links.find((x) => x.from === from && x.to === to);
  assert.ok(l, `no matrix entry ${from} -> ${to}`);
  return l;
};
const row = (h: MeshHealth, node: string) => h.nodes.find((n) => n.node === node)!;
const count = (h: MeshHealth, status: LinkHealth['status']): number => h.links.filter((l) => l.status === status).length;

test('4 healthy nodes: 12 directed links up, the diagonal not expected, exit 0', () => {
  const plan = makePlan(FOUR);
  const h = analyzeMesh(plan, names(plan), probesFor(plan));
  assert.equal(h.links.length, 16);
  assert.equal(count(h, 'up'), 12);
  assert.equal(count(h, 'not-expected'), 4);
  assert.ok(h.links.every((l) => !l.oneSided));
  assert.deepEqual(h.problems, []);
  assert.equal(h.healthy, true);
  assert.equal(h.exitCode, 0);
  for (const n of h.nodes) {
    assert.deepEqual(
      { up: n.linksUp, expected: n.linksExpected, neighbours: n.babelNeighbours, routes: n.routes, drift: n.drift, reachable: n.reachable },
      { up: 3, expected: 3, neighbours: 3, routes: 3, drift: false, reachable: true },
    );
  }
});

test('an interface deleted on one node: that pair missing and one-sided, the fix named, exit 1', () => {
  const plan = makePlan(FOUR);
  const probes = probesFor(plan, (name, r) => {
    if (name !== 'n2') return;
    r.links = r.links.filter((l) => l.name !== 'rait50001');
    r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50001');
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    { status: link(h, 'n2', 'n1').status, oneSided: link(h, 'n2', 'n1').oneSided, reason: link(h, 'n2', 'n1').reason },
    { status: 'missing', oneSided: true, reason: 'interface missing' },
  );
  assert.deepEqual({ status: link(h, 'n1', 'n2').status, oneSided: link(h, 'n1', 'n2').oneSided }, { status: 'up', oneSided: true });
  assert.equal(count(h, 'up'), 11);
  assert.equal(h.links.filter((l) => l.oneSided).length, 2, 'only that pair is one-sided');
  assert.equal(row(h, 'n2').linksUp, 2);
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, ["n2 → n1: interface rait50001 missing on n2 (one-sided: n1's end is up) — run deploy"]);
});

test('the far end of a deleted interface loses its babel neighbour, later its handshake: still one problem, one-sided', () => {
  const plan = makePlan(FOUR);
  const deleted = (handshakeAge: number) =>
    probesFor(plan, (name, r) => {
      if (name === 'n2') {
        r.links = r.links.filter((l) => l.name !== 'rait50001');
        r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50001');
      }
      if (name !== 'n1') return;
      // babeld keeps a neighbour whose hellos stopped, at infinite cost.
      Object.assign(
        r.babel.neighbours.find((n) => n.interface === 'rait50002')!,
        { rxcost: 0xffff, txcost: 0xffff, cost: 0xffff, reach: '0007' },
      );
      r.links.find((l) => l.name === 'rait50002')!.handshakeAge = handshakeAge;
    });
  const problem = ["n2 → n1: interface rait50001 missing on n2 (one-sided: n1's end is up) — run deploy"];

  let h = analyzeMesh(plan, names(plan), deleted(30));
  assert.deepEqual(
    { status: link(h, 'n1', 'n2').status, fault: link(h, 'n1', 'n2').fault, oneSided: link(h, 'n1', 'n2').oneSided },
    { status: 'stale', fault: 'no-neighbour', oneSided: true },
  );
  assert.deepEqual({ status: link(h, 'n2', 'n1').status, oneSided: link(h, 'n2', 'n1').oneSided }, { status: 'missing', oneSided: true });
  assert.equal(row(h, 'n1').babelNeighbours, 2, 'a neighbour at infinite cost is not counted');
  assert.equal(count(h, 'up'), 10);
  assert.deepEqual(h.problems, problem);

  h = analyzeMesh(plan, names(plan), deleted(HANDSHAKE_FRESH_SECONDS + 60));
  assert.deepEqual([link(h, 'n1', 'n2').fault, link(h, 'n1', 'n2').oneSided], ['no-handshake', true]);
  assert.deepEqual(h.problems, problem);
});

test('a neighbour at infinite cost makes its link stale', () => {
  const plan = makePlan(['n1', 'n2']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n1') r.babel.neighbours[0]!.txcost = 0xffff;
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual([link(h, 'n1', 'n2').status, link(h, 'n1', 'n2').reason], ['stale', 'no babel neighbour']);
  assert.deepEqual([link(h, 'n2', 'n1').status, link(h, 'n2', 'n1').oneSided], ['up', true]);
});

test('drift on one node only, by file', () => {
  const plan = makePlan(FOUR);
  const probes = probesFor(plan, (name, r) => {
    if (name !== 'n3') return;
    r.configHashes['peers.conf'] = '0'.repeat(64);
    delete r.configHashes['babeld.conf'];
    r.configHashes['operator-notes.txt'] = '1'.repeat(64);
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    h.nodes.map((n) => n.drift),
    [false, false, true, false],
  );
  assert.deepEqual(row(h, 'n3').driftedFiles, [
    { name: 'peers.conf', change: 'differs' },
    { name: 'babeld.conf', change: 'missing' },
  ]);
  assert.equal(count(h, 'up'), 12);
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, [
    'n3: config drift — deployed files differ from the plan (peers.conf differs, babeld.conf missing), run deploy',
  ]);
});

test('managed interfaces the plan does not have count as drift', () => {
  const plan = makePlan(['n1', 'n2']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n1') r.links.push({ ...r.links[0]!, name: 'rait50099' });
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(row(h, 'n1').extraInterfaces, ['rait50099']);
  assert.equal(row(h, 'n1').drift, true);
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, ['n1: interfaces not in the plan (rait50099) — run deploy to remove them']);
});

test('an unreachable node: its row unreachable, its links unknown, the others still reported', () => {
  const plan = makePlan(FOUR);
  const probes = probesFor(
    plan,
    // Its peers lose the handshake with it after a while.
    (_name, r) => r.links.filter((l) => l.name === 'rait50004').forEach((l) => (l.handshakeAge = 600)),
    { n4: { kind: 'unreachable', reason: 'n4.example.org:22: connection refused' } },
  );
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    { ...row(h, 'n4') },
    {
      node: 'n4',
      reachable: false,
      linksUp: null,
      linksExpected: 3,
      babelNeighbours: null,
      routes: null,
      drift: false,
      driftedFiles: [],
      extraInterfaces: [],
      babeldStale: false,
      linkErrors: [],
      persistence: null,
      registry: null,
      error: 'n4.example.org:22: connection refused',
    },
  );
  assert.deepEqual(
    ['n1', 'n2', 'n3'].map((p) => link(h, 'n4', p).status),
    ['unknown', 'unknown', 'unknown'],
  );
  assert.equal(link(h, 'n4', 'n4').status, 'not-expected');
  assert.deepEqual(
    ['n1', 'n2', 'n3'].map((p) => link(h, p, 'n4').status),
    ['stale', 'stale', 'stale'],
  );
  assert.ok(
    h.links.every((l) => !l.oneSided),
    'unknown ends make nothing one-sided',
  );
  assert.equal(count(h, 'up'), 6, 'n1..n3 among themselves');
  assert.deepEqual(
    h.nodes.slice(0, 3).map((n) => n.linksUp),
    [2, 2, 2],
  );
  assert.equal(h.exitCode, 1);
  // The handshakes towards n4 follow from n4 being down: one line, not four.
  assert.deepEqual(h.problems, ['n4: unreachable — n4.example.org:22: connection refused']);
});

test('an agent that fails or a task that errors after connecting: reachable, failed, links unknown', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(
    plan,
    (name, r) => {
      if (name === 'n2') Object.assign(r, { ok: false, error: 'wg not found (install wireguard-tools)' });
    },
    { n3: { kind: 'failed', reason: 'agent exited with code 2: syntax error' } },
  );
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    h.nodes.map((n) => [n.reachable, n.error]),
    [
      [true, undefined],
      [true, 'wg not found (install wireguard-tools)'],
      [true, 'agent exited with code 2: syntax error'],
    ],
  );
  assert.equal(link(h, 'n2', 'n1').status, 'unknown');
  assert.equal(link(h, 'n3', 'n1').status, 'unknown');
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, [
    'n2: failed — wg not found (install wireguard-tools)',
    'n3: failed — agent exited with code 2: syntax error',
  ]);
});

test('ip4/ip6 mix: links across families are not expected and do not make the mesh unhealthy', () => {
  const plan = makePlan(FOUR, { families: ['ip4', 'ip6', 'ip4', 'ip6'] });
  const h = analyzeMesh(plan, names(plan), probesFor(plan));
  assert.equal(link(h, 'n1', 'n2').status, 'not-expected');
  assert.equal(link(h, 'n2', 'n1').status, 'not-expected');
  assert.equal(link(h, 'n1', 'n3').status, 'up');
  assert.equal(link(h, 'n2', 'n4').status, 'up');
  assert.equal(count(h, 'up'), 4);
  assert.equal(count(h, 'not-expected'), 12);
  assert.deepEqual(
    h.nodes.map((n) => n.linksExpected),
    [1, 1, 1, 1],
  );
  assert.equal(h.exitCode, 0);
});

test('stale handshake on both ends: one problem for the pair, naming the endpoint', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, (name, r) => {
    const towards = { n1: 'rait50002', n2: 'rait50001' }[name];
    for (const l of r.links) if (l.name === towards) l.handshakeAge = 14 * 60;
  });
  const h = analyzeMesh(plan, names(plan), probes);
  for (const [a, b] of [
    ['n1', 'n2'],
    ['n2', 'n1'],
  ] as const) {
    assert.deepEqual(
      { status: link(h, a, b).status, age: link(h, a, b).handshakeAge, reason: link(h, a, b).reason, oneSided: link(h, a, b).oneSided },
      { status: 'stale', age: 840, reason: 'no handshake for 14 min', oneSided: false },
    );
  }
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, ['n1 ↔ n2: no handshake for 14 min — endpoint n2.example.org:50001 unreachable from n1?']);
});

test('handshake freshness: the limit itself is up, one second more or none at all is stale', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const n1Ages = (toN2: number | null, toN3: number | null) =>
    probesFor(plan, (name, r) => {
      if (name !== 'n1') return;
      r.links.find((l) => l.name === 'rait50002')!.handshakeAge = toN2;
      r.links.find((l) => l.name === 'rait50003')!.handshakeAge = toN3;
    });
  let h = analyzeMesh(plan, names(plan), n1Ages(HANDSHAKE_FRESH_SECONDS, null));
  assert.equal(link(h, 'n1', 'n2').status, 'up');
  assert.deepEqual([link(h, 'n1', 'n3').status, link(h, 'n1', 'n3').reason], ['stale', 'no handshake yet']);
  assert.equal(link(h, 'n1', 'n3').oneSided, true, 'n3 still has a fresh handshake with n1');
  assert.deepEqual(h.problems, [
    "n1 → n3: no handshake yet (one-sided: n3's end is up) — endpoint n3.example.org:50001 unreachable from n1?",
  ]);

  h = analyzeMesh(plan, names(plan), n1Ages(HANDSHAKE_FRESH_SECONDS + 1, 0));
  assert.deepEqual([link(h, 'n1', 'n2').status, link(h, 'n1', 'n2').reason], ['stale', 'no handshake for 3 min']);
  assert.equal(link(h, 'n1', 'n3').status, 'up');
});

test('babeld: a missing neighbour makes a link stale; with babeld disabled the handshake alone counts', () => {
  const noNeighbour = (plan: ReturnType<typeof makePlan>) =>
    probesFor(plan, (name, r) => {
      if (name === 'n1') r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50002');
    });
  const withBabel = makePlan(['n1', 'n2']);
  let h = analyzeMesh(withBabel, names(withBabel), noNeighbour(withBabel));
  assert.deepEqual([link(h, 'n1', 'n2').status, link(h, 'n1', 'n2').reason], ['stale', 'no babel neighbour']);
  assert.equal(h.exitCode, 1);
  assert.match(h.problems.join('\n'), /^n1 → n2: tunnel up but no babel neighbour on rait50002/);

  const withoutBabel = makePlan(['n1', 'n2'], { babeld: false });
  h = analyzeMesh(withoutBabel, names(withoutBabel), noNeighbour(withoutBabel));
  assert.equal(h.babeld, false);
  assert.equal(count(h, 'up'), 2);
  assert.equal(h.exitCode, 0);
});

test('a node that keeps healing itself, or whose boot unit is off, is a problem; one heal is not', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n1') Object.assign(r.persistence, { lastRun: 1, lastKind: 'heal', healsChanged: 3, lastHealChange: 'rait50002' });
    if (name === 'n2') Object.assign(r.persistence, { healsChanged: 1, lastHealChange: 'rait50001' });
    if (name === 'n3') r.persistence.enabled = false;
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.equal(h.healthy, false);
  assert.deepEqual(h.problems, [
    'n1: healed itself 3 times in the last 24 h (last it made or fixed: rait50002) — something keeps breaking there: look at its wireguard-go and babeld (/var/log/rait-fleet/babeld.log)',
    'n3: the unit that brings the mesh back at boot (rait-fleet.service) is not enabled — run deploy',
  ]);
  assert.equal(row(h, 'n2').persistence!.healsChanged, 1);
});

test('babeld stopped on a node: one line for the node, not one per link', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n2') r.babel = { running: false, configHash: null, neighbours: [], routes: 0 };
    else r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait50002');
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual([link(h, 'n2', 'n1').reason, link(h, 'n1', 'n2').reason], ['babeld not running', 'no babel neighbour']);
  assert.deepEqual(h.problems, ['n2: babeld not running — run deploy to start it, or look at its log']);
});

test('wrong peer key or listen port on a present interface: stale, with the reason', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan, (name, r) => {
    if (name !== 'n1') return;
    r.links.find((l) => l.name === 'rait50002')!.publicKey = Buffer.alloc(32, 0xee).toString('base64');
    r.links.find((l) => l.name === 'rait50003')!.listenPort = 50999;
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    [link(h, 'n1', 'n2').status, link(h, 'n1', 'n2').reason],
    ['stale', "peer key 7u7u7u7u… differs from the plan's ERERERER…"],
  );
  assert.deepEqual([link(h, 'n1', 'n3').status, link(h, 'n1', 'n3').reason], ['stale', "listen port 50999 differs from the plan's 50003"]);
  assert.deepEqual(h.problems, [
    "n1 → n2: rait50002 on n1: peer key 7u7u7u7u… differs from the plan's ERERERER… (one-sided: n2's end is up) — run deploy",
    "n1 → n3: rait50003 on n1: listen port 50999 differs from the plan's 50003 (one-sided: n3's end is up) — run deploy",
  ]);
});

test('an interface that is down is stale even with a fresh handshake', () => {
  const plan = makePlan(['n1', 'n2']);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n2') r.links[0]!.up = false;
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual([link(h, 'n2', 'n1').status, link(h, 'n2', 'n1').reason], ['stale', 'interface down']);
  assert.deepEqual(h.problems, ["n2 → n1: interface rait50001 is down on n2 (one-sided: n1's end is up) — run deploy"]);
});

test('--limit: rows are the selected nodes, columns every node; other nodes need no result', () => {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan);
  probes.delete('n3');
  const h = analyzeMesh(plan, ['n2'], probes);
  assert.deepEqual(
    h.nodes.map((n) => n.node),
    ['n2'],
  );
  assert.deepEqual(h.peers, ['n1', 'n2', 'n3']);
  assert.deepEqual(
    h.links.map((l) => [l.to, l.status]),
    [
      ['n1', 'up'],
      ['n2', 'not-expected'],
      ['n3', 'up'],
    ],
  );
  assert.equal(h.exitCode, 0);
});

test('bad calls are programming errors', () => {
  const plan = makePlan(['n1', 'n2']);
  assert.throws(() => analyzeMesh(plan, ['n9'], probesFor(plan)), /n9 is not in the plan/);
  assert.throws(() => analyzeMesh(plan, ['n1'], new Map()), /no result for n1/);
});

test('a node with none of its interfaces: one line for it, nothing repeated for each peer', () => {
  const plan = makePlan(FOUR);
  const probes = probesFor(plan, (name, r) => {
    if (name === 'n3') Object.assign(r, { links: [], babel: { running: true, configHash: null, neighbours: [], routes: 0 } });
    else r.links.filter((l) => l.name === 'rait50003').forEach((l) => (l.handshakeAge = null));
  });
  const h = analyzeMesh(plan, names(plan), probes);
  assert.deepEqual(
    ['n1', 'n2', 'n4'].map((p) => link(h, 'n3', p).status),
    ['missing', 'missing', 'missing'],
  );
  assert.deepEqual(
    ['n1', 'n2', 'n4'].map((p) => link(h, p, 'n3').status),
    ['stale', 'stale', 'stale'],
  );
  assert.equal(h.exitCode, 1);
  assert.deepEqual(h.problems, ['n3: none of its 3 planned interfaces exist — run deploy']);
});

test('dual-stack pairs: a link expected per shared family; a broken one is named with its family, the matrix shows the worse', () => {
  const plan = makePlan(['n1', 'n2', 'n3'], { families: [['ip4', 'ip6'], ['ip4', 'ip6'], 'ip4'] });
  const healthy = analyzeMesh(plan, names(plan), probesFor(plan));
  assert.equal(healthy.healthy, true);
  assert.deepEqual(
    healthy.nodes.map((n) => [n.node, n.linksUp, n.linksExpected]),
    [
      ['n1', 3, 3],
      ['n2', 3, 3],
      ['n3', 2, 2],
    ],
  );
  assert.deepEqual(
    healthy.links.filter((l) => l.from === 'n1' && l.to === 'n2').map((l) => [l.family, l.interface]),
    [
      ['ip4', 'rait50002'],
      ['ip6', 'rait6x50102'],
    ],
  );
  const h = analyzeMesh(
    plan,
    names(plan),
    probesFor(plan, (name, r) => {
      if (name !== 'n1') return;
      r.links = r.links.filter((l) => l.name !== 'rait6x50102');
      r.babel.neighbours = r.babel.neighbours.filter((n) => n.interface !== 'rait6x50102');
    }),
  );
  assert.equal(h.exitCode, 1);
  assert.deepEqual(
    h.links.filter((l) => l.from === 'n1' && l.to === 'n2').map((l) => [l.family, l.status, l.oneSided]),
    [
      ['ip4', 'up', false],
      ['ip6', 'missing', true],
    ],
  );
  assert.deepEqual(h.problems, ["n1 → n2 (ip6): interface rait6x50102 missing on n1 (one-sided: n2's end is up) — run deploy"]);
});
