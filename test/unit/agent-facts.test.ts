/**
 * The agent's decisions on facts recorded from a real node (test/fixtures/agent-facts, made by
 * record.ts on a 4-node lab): node n1 as deployed, and after each change a real node goes through.
 * The real agent runs against a made-up node serving those facts (agent-harness.ts); what it
 * changes is exactly the commands it runs. No root.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyReport, StatusReport } from '../../src/agent/report.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentShell, factsDir, runAgent, type AgentRun } from './agent-harness.js';
import { link, n1Plan, state } from './recorded-node.js';

function deploy(facts: AgentRun['facts'], opts: Partial<AgentRun> = {}) {
  return runAgent<ApplyReport>({ ...n1Plan(), facts, ...opts });
}

const changes = (text: string): string[] => text.split('\n').filter(Boolean);
const sorted = (names: string[]): string[] => [...names].sort();

describe('agent decisions on recorded facts', () => {
  it('deployed: every link kept, nothing run', () => {
    const { report, changes: log } = deploy({ here: 'deployed' });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(sorted(report.links.kept), sorted(Object.values(link)));
    assert.deepEqual([report.links.added, report.links.updated, report.links.removed], [[], [], []]);
    assert.deepEqual(changes(log), []);
  });

  it('another fwmark planned: every link gets it; a mark above 2^31 compares exactly', () => {
    const { report, changes: log } = deploy({ here: 'deployed' }, n1Plan('  fwmark: 55\n'));
    assert.deepEqual(sorted(report.links.updated), sorted(Object.values(link)));
    assert.equal(changes(log).filter((c) => / fwmark 55 /.test(c)).length, 3);
    // The same links, marked 0x80000000 (wg prints the mark in hex): nothing to do.
    const dir = mkdtempSync(join(tmpdir(), 'rf-facts-'));
    try {
      cpSync(factsDir('deployed'), dir, { recursive: true });
      writeFileSync(join(dir, 'wg'), readFileSync(join(dir, 'wg'), 'utf8').replaceAll('\t0x36\n', '\t0x80000000\n'));
      const high = deploy({ here: dir }, n1Plan('  fwmark: 2147483648\n'));
      assert.deepEqual(sorted(high.report.links.kept), sorted(Object.values(link)));
      assert.deepEqual(changes(high.changes), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MTU changed by hand: only that link, only its MTU', () => {
    const { report, changes: log } = deploy({ here: 'mtu-changed' });
    assert.deepEqual(report.links.updated, [link.n2]);
    assert.deepEqual(changes(log), [`ip link set dev ${link.n2} mtu 1400 group 54`]);
  });

  it('endpoint changed: that link gets its peer again, with the planned endpoint', () => {
    const { report, changes: log } = deploy({ here: 'endpoint-changed' });
    assert.deepEqual(report.links.updated, [link.n3]);
    const [only, ...rest] = changes(log);
    assert.deepEqual(rest, []);
    assert.match(
      only!,
      new RegExp(`^wg set ${link.n3} private-key \\S+ listen-port 50002 fwmark 54 peer \\S+ endpoint 10\\.231\\.250\\.3:50000 `),
    );
  });

  it('a peer of another key on a link: the stranger removed, the planned peer set', () => {
    const { report, changes: log } = deploy({ here: 'peer-changed' });
    assert.deepEqual(report.links.updated, [link.n4]);
    const [remove, set, ...rest] = changes(log);
    assert.deepEqual(rest, []);
    assert.match(remove!, new RegExp(`^wg set ${link.n4} peer \\S+ remove$`));
    assert.ok(!remove!.includes(state.nodes.n4!.publicKey));
    assert.ok(set!.includes(`peer ${state.nodes.n4!.publicKey} endpoint 10.231.250.4:50000`));
  });

  it('our own key rotated: every link gets it, nothing else changes', () => {
    const { plan, mesh } = n1Plan();
    const rotated = { ...plan, keys: { ...plan.keys, privateKey: state.nodes.n2!.privateKey } };
    const { report, changes: log } = runAgent<ApplyReport>({ plan: rotated, mesh, facts: { here: 'deployed' } });
    assert.deepEqual(sorted(report.links.updated), sorted(Object.values(link)));
    assert.equal(changes(log).length, 3);
    for (const line of changes(log)) assert.match(line, /^wg set rait\d+ private-key \S+ listen-port/);
  });

  it('a link deleted by hand: made again, the others kept', () => {
    const { report, changes: log } = deploy({ here: 'link-deleted' });
    assert.deepEqual(report.links.added, [link.n2]);
    assert.deepEqual(sorted(report.links.kept), sorted([link.n3, link.n4]));
    assert.ok(
      changes(log).every((l) => l.includes(link.n2)),
      log,
    );
    assert.match(log, new RegExp(`^ip link add dev ${link.n2} type wireguard$`, 'm'));
  });

  it('a managed link no longer planned is removed; a link of our prefix and group that is no WireGuard is not ours', () => {
    const { report, changes: log } = deploy({ here: 'stale-and-foreign' });
    assert.deepEqual(report.links.removed, ['rait50999']);
    assert.deepEqual(changes(log), ['ip link del dev rait50999']);
  });

  it('a planned name taken by a link that is no WireGuard: that link fails, never taken; the others are done', () => {
    const { report, changes: log } = deploy({ here: 'name-taken' });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(
      report.links.failed.map((f) => f.name),
      [link.n3],
    );
    assert.match(report.links.failed[0]!.error, new RegExp(`${link.n3} exists and is not a WireGuard link`));
    assert.deepEqual(sorted(report.links.kept), sorted([link.n2, link.n4]));
    assert.doesNotMatch(log, new RegExp(`${link.n3}`));
  });

  it('netns: the links in their namespace are kept', () => {
    const { report, changes: log } = runAgent<ApplyReport>({
      ...n1Plan('  isolation: netns\n  interface_namespace: mesh\n'),
      facts: { here: 'link-deleted', ns: ['mesh', 'netns'] },
    });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(sorted(report.links.kept), sorted(Object.values(link)));
    assert.deepEqual(changes(log), []);
  });

  it('check mode, links to move into a namespace that does not exist yet: all would be made there, nothing is', () => {
    const {
      report,
      changes: log,
      stderr,
    } = runAgent<ApplyReport>({
      ...n1Plan('  isolation: netns\n  interface_namespace: mesh\n'),
      mode: 'check',
      facts: { here: 'deployed' },
    });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(sorted(report.links.added), sorted(Object.values(link)));
    assert.match(stderr, /\[would\] ip netns add mesh/);
    assert.deepEqual(changes(log), []);
  });

  it('the links moved out of their namespace: removed there first, then made here', () => {
    const { report, changes: log, placement } = deploy({ ns: ['mesh', 'netns'] }, { placement: 'netns mesh -\n' });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(sorted(report.links.removed), sorted(Object.values(link)));
    assert.deepEqual(sorted(report.links.added), sorted(Object.values(link)));
    const lines = changes(log);
    const lastDelete = lines.findLastIndex((l) => l.startsWith('ip -n mesh link del dev '));
    const firstAdd = lines.findIndex((l) => l.startsWith('ip link add dev '));
    assert.ok(lastDelete >= 0 && firstAdd > lastDelete, log);
    assert.equal(placement, 'none - - rait 54\n');
  });
});

describe('agent status on recorded facts', () => {
  const status = (facts: AgentRun['facts']) => runAgent<StatusReport>({ ...n1Plan(), mode: 'status', facts });

  it('reports each managed link as wg and ip saw it, never a private key', () => {
    const { report, stderr } = status({ here: 'deployed' });
    assert.equal(report.wireguard, 'wireguard-go');
    const byName = new Map(report.links.map((l) => [l.name, l]));
    for (const peer of ['n2', 'n3', 'n4'] as const) {
      const l = byName.get(link[peer])!;
      assert.equal(l.publicKey, state.nodes[peer]!.publicKey);
      assert.equal(l.listenPort, state.nodes[peer]!.sendPort);
      assert.equal(l.endpoint, `10.231.250.${peer.slice(1)}:50000`);
      assert.equal(l.mtu, 1400);
      assert.equal(l.up, true);
      assert.ok(typeof l.handshakeAge === 'number' && l.rxBytes > 0 && l.txBytes > 0, JSON.stringify(l));
    }
    assert.equal(report.links.length, 3);
    assert.ok(!JSON.stringify(report).includes(state.nodes.n1!.privateKey) && !stderr.includes(state.nodes.n1!.privateKey));
  });

  it("reads babeld's neighbours from its recorded dump: costs, rtt, and the count of installed routes", () => {
    // The dump as babeld's socket gave it; babel_json asks only when babeld is enabled.
    const [version, json] = agentShell(
      'dump_file=$1/babel; P_BABELD=1; P_BABELD_MANAGE=external; babel_ctl() { cat "$dump_file"; }; babel_json; printf "%s\\n%s" "$V_BABELD" "$S_BABEL"',
      { babel: readFileSync(`${factsDir('deployed')}/babel`, 'utf8') },
    ).split('\n');
    // Its version from the dump's header: no babeld -V.
    assert.equal(version, '1.12.1');
    const babel = JSON.parse(json!) as StatusReport['babel'];
    assert.deepEqual(
      babel.neighbours.find((n) => n.interface === 'rait50003'),
      {
        interface: 'rait50003',
        address: 'fe80::1346:553e:96c9:ed20',
        rxcost: 33,
        txcost: 42,
        cost: 104,
        rtt: 71.738,
        reach: 'fc00',
      },
    );
    assert.equal(babel.neighbours.length, 3);
    assert.equal(babel.routes, 6);
  });

  it('lists a stale managed link, not an operator link of the same prefix and group', () => {
    const names = status({ here: 'stale-and-foreign' }).report.links.map((l) => l.name);
    assert.ok(names.includes('rait50999'));
    assert.ok(!names.includes('rait50998'));
  });
});
