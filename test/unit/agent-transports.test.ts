/**
 * The agent with dual-stack nodes (issue 17), on the recorded node n1 (test/fixtures/agent-facts): a
 * link per family, each family's prefix managed, endpoint names resolved in the link's family, one
 * rait.conf per transport, and the way back to one family. No root.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ApplyReport } from '../../src/agent/report.js';
import { parseInventory } from '../../src/inventory/load.js';
import { planMesh } from '../../src/mesh/plan.js';
import { planFile } from '../../src/agent/payload.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { sendPortOf } from '../../src/state/send-ports.js';
import { factsDir, MadeUpNode, runAgent } from './agent-harness.js';
import { link, n1Plan, state } from './recorded-node.js';

const sorted = (names: string[]): string[] => [...names].sort();

/** n1 of the recorded lab with n1 and n2 dual-stack (n2's endpoint `n2`: a name, or both addresses). */
function dualPlan(n2Endpoint = '[10.231.250.2, "fd00::2"]') {
  const inv = parseInventory(
    '/facts/dual.yaml',
    [
      'mesh:',
      '  babeld: { enabled: false }',
      '  interface_prefix: { ip4: rait, ip6: wg6x }',
      'nodes:',
      '  n1: { host: 10.231.250.1, address_family: [ip4, ip6], endpoint: [10.231.250.1, "fd00::1"] }',
      `  n2: { host: 10.231.250.2, address_family: [ip4, ip6], endpoint: ${n2Endpoint} }`,
      '  n3: { host: 10.231.250.3 }',
      '  n4: { host: 10.231.250.4 }',
    ].join('\n'),
  );
  const keys = ensureKeys(inv, state).state;
  const plan = planMesh(inv, keys, {});
  return {
    plan: plan.nodes[0]!,
    mesh: plan.mesh,
    ip6Link: `wg6x${sendPortOf(keys.nodes.n2!, 'ip6')}`,
    n1Port6: sendPortOf(keys.nodes.n1!, 'ip6'),
  };
}

/** The deployed facts with n1's link to n4 renamed as if it were an ip6 link of a dual-stack mesh. */
function factsWithIp6Link(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rf-dual-facts-'));
  for (const f of ['wg', 'ip', 'babel'])
    writeFileSync(join(dir, f), readFileSync(join(factsDir('deployed'), f), 'utf8').replaceAll(link.n4, name));
  return dir;
}

describe('agent: dual-stack transports', () => {
  it('a node gaining IPv6: its ip4 links kept as they are, an ip6 link to each dual-stack peer, rait-ip6.conf beside rait.conf', () => {
    const { plan, mesh, ip6Link, n1Port6 } = dualPlan();
    const r = runAgent<ApplyReport>({ plan, mesh, facts: { here: 'deployed' } });
    assert.equal(r.report.ok, true, r.report.error);
    assert.deepEqual(sorted(r.report.links.kept), sorted(Object.values(link)));
    assert.deepEqual(r.report.links.added, [ip6Link]);
    assert.match(
      r.changes,
      new RegExp(`^wg set ${ip6Link} private-key \\S+ listen-port \\d+ fwmark 54 peer \\S+ endpoint \\[fd00::2\\]:${n1Port6} `, 'm'),
    );
    assert.ok(
      r.changes
        .split('\n')
        .filter(Boolean)
        .every((l) => l.includes(ip6Link)),
      r.changes,
    );
    assert.match(r.configFiles['rait-ip6.conf']!, /^AddressFamily = "ip6"$/m);
    assert.equal(r.placement, 'none - - rait,wg6x 54\n');
  });

  it("resolves each link's endpoint name in the link's family", () => {
    const { plan, mesh, ip6Link } = dualPlan('n2.example');
    const r = runAgent<ApplyReport>({
      plan,
      mesh,
      facts: { here: 'link-deleted' },
      hosts: '10.231.250.22 n2.example\nfd00::22 n2.example\n',
    });
    assert.deepEqual(sorted(r.report.links.added), sorted([link.n2, ip6Link]));
    assert.match(r.changes, new RegExp(`^wg set ${link.n2} .* endpoint 10\\.231\\.250\\.22:\\d+ `, 'm'));
    assert.match(r.changes, new RegExp(`^wg set ${ip6Link} .* endpoint \\[fd00::22\\]:\\d+ `, 'm'));
  });

  it('back to one family: the links of the prefix no longer used and the second rait.conf go; --check shows it first', () => {
    const facts = factsWithIp6Link('wg6x50013');
    try {
      const before = {
        facts: { here: facts },
        placement: 'none - - rait,wg6x 54\n',
        configFiles: { 'rait-ip6.conf': 'AddressFamily = "ip6"\n' },
      };
      const check = runAgent<ApplyReport>({ ...n1Plan(), ...before, mode: 'check' });
      assert.ok(check.report.links.removed.includes('wg6x50013'));
      assert.match(check.report.files.find((f) => f.name === 'rait-ip6.conf')?.diff ?? '', /^-AddressFamily = "ip6"$/m);
      assert.equal(check.changes, '');
      const r = runAgent<ApplyReport>({ ...n1Plan(), ...before });
      assert.deepEqual(r.report.links.removed, ['wg6x50013']);
      assert.deepEqual(r.report.links.added, [link.n4]);
      assert.deepEqual(
        r.report.files.find((f) => f.name === 'rait-ip6.conf'),
        { name: 'rait-ip6.conf', changed: true },
      );
      assert.equal(r.configFiles['rait-ip6.conf'], undefined);
      assert.equal(r.placement, 'none - - rait 54\n');
    } finally {
      rmSync(facts, { recursive: true, force: true });
    }
  });

  it('a plan of version 2, stored by an older rait-fleet, still applies on the node alone', () => {
    const { plan, mesh } = n1Plan();
    const node = new MadeUpNode({ facts: { here: 'deployed' } });
    try {
      assert.equal(node.run<ApplyReport>({ plan, mesh }).report.ok, true);
      const v2 = planFile(plan, { ...mesh, configDir: node.configDir }, 'deploy')
        .replaceAll(/^(link .*) ip4$/gm, '$1')
        .replace('version 3\nprefix ip4 rait\nprefix ip6 rait\n', 'version 2\nfamily ip4\nprefix rait\n');
      writeFileSync(join(node.configDir, 'plan'), v2);
      const r = node.resident<ApplyReport>(['apply']);
      assert.equal(r.report.ok, true, r.report.error);
      assert.deepEqual(sorted(r.report.links.kept), sorted(Object.values(link)));
      assert.equal(r.changes, '');
    } finally {
      node.remove();
    }
  });
});
