// Dual-stack nodes (issue 17): one transport per address family, each with its own SendPort and
// interface prefix; a pair gets one link per family it shares; RAIT's files follow (one rait.conf per
// transport, a peers.conf entry per transport); single-family fleets stay exactly as they were.
import assert from 'node:assert/strict';
import TOML from '@iarna/toml';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { planMesh } from '../../src/mesh/plan.js';
import { planFile } from '../../src/agent/payload.js';
import { changed, ensureKeys } from '../../src/state/allocate.js';
import { formatState, parseState } from '../../src/state/codec.js';
import { sendPortOf } from '../../src/state/send-ports.js';
import type { FleetState } from '../../src/state/types.js';
import { inventory } from '../fixtures/inventories.js';

const PREFIXES = 'interface_prefix: { ip4: rait4x, ip6: rait6x }';
const NO_BABELD = 'babeld: { enabled: false }';
const DUAL = (name: string, i: number): string =>
  `${name}: { host: 192.0.2.${i}, address_family: [ip4, ip6], endpoint: [192.0.2.${i}, "2001:db8::${i}"] }`;

function rejects(text: string, field: string, message: RegExp): void {
  assert.throws(
    () => parseInventory('/fleet/inv.yaml', text),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.where.field, field, e.message);
      assert.ok(e.where.line && e.where.column, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('inventory: dual-stack nodes', () => {
  it('address_family lists both; endpoint gives an address per family, or a name for both; prefixes per family', () => {
    const inv = inventory(
      [
        DUAL('a', 1),
        'b: { host: 192.0.2.2, address_family: [ip6, ip4], endpoint: b.example.org, send_port: { ip6: 50100 } }',
        'c: { host: 192.0.2.3 }',
      ],
      [PREFIXES],
    );
    assert.deepEqual(inv.mesh.interfacePrefixes, { ip4: 'rait4x', ip6: 'rait6x' });
    assert.deepEqual(inv.nodes[0]!.transports, [
      { family: 'ip4', endpoint: '192.0.2.1' },
      { family: 'ip6', endpoint: '2001:db8::1' },
    ]);
    assert.deepEqual(inv.nodes[1]!.transports, [
      { family: 'ip6', endpoint: 'b.example.org', sendPort: 50100 },
      { family: 'ip4', endpoint: 'b.example.org' },
    ]);
    assert.deepEqual(inv.nodes[2]!.transports, [{ family: 'ip4', endpoint: '192.0.2.3' }]);
  });

  it('one prefix stays one prefix for nodes of one family each, ip4 and ip6 mixed', () => {
    const inv = inventory(['a: { host: 192.0.2.1 }', 'b: { host: "2001:db8::2", address_family: ip6 }']);
    assert.deepEqual(inv.mesh.interfacePrefixes, { ip4: 'rait', ip6: 'rait' });
  });

  it('bad input names file, line, column and field', () => {
    const nodes = (lines: string[], mesh: string[] = []): string =>
      [...(mesh.length ? ['mesh:', ...mesh.map((l) => `  ${l}`)] : []), 'nodes:', ...lines.map((l) => `  ${l}`)].join('\n');
    rejects(
      nodes([DUAL('a', 1)]),
      'nodes.a.address_family',
      /node a has both address families, so each needs an interface prefix of its own/,
    );
    rejects(nodes([DUAL('a', 1)], ['interface_prefix: wg']), 'mesh.interface_prefix', /node a has both address families/);
    rejects(nodes([DUAL('a', 1)], ['interface_prefix: { ip4: rait }']), 'mesh.interface_prefix', /no prefix for ip6, which nodes use/);
    rejects(
      nodes([DUAL('a', 1)], ['interface_prefix: { ip4: rait, ip6: rait6 }']),
      'mesh.interface_prefix',
      /"rait" and "rait6" start alike/,
    );
    rejects(
      nodes([DUAL('a', 1)], ['interface_prefix: { ip4: rait4xxxxxxx, ip6: r6 }']),
      'mesh.interface_prefix',
      /"rait4xxxxxxx50999" is 17 bytes/,
    );
    rejects(nodes([DUAL('a', 1)], ['interface_prefix: { ip5: x }']), 'mesh.interface_prefix.ip5', /unknown key "ip5"/);
    rejects(nodes(['a: { host: 192.0.2.1, address_family: [ip4, ip4] }'], [PREFIXES]), 'nodes.a.address_family', /ip4 is listed twice/);
    rejects(nodes(['a: { host: 192.0.2.1, address_family: [] }'], [PREFIXES]), 'nodes.a.address_family', /one or both of ip4, ip6/);
    rejects(
      nodes(['a: { host: 192.0.2.1, address_family: [ip4, ip6] }'], [PREFIXES]),
      'nodes.a.host',
      /host 192\.0\.2\.1 \(the default endpoint\) is an IPv4 address, and the node has both/,
    );
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], endpoint: "2001:db8::1" }'], [PREFIXES]),
      'nodes.a.endpoint',
      /2001:db8::1 is an IPv6 address/,
    );
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], endpoint: [192.0.2.1] }'], [PREFIXES]),
      'nodes.a.endpoint',
      /no ip6 address: list one address per family/,
    );
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], endpoint: [192.0.2.1, 192.0.2.2] }'], [PREFIXES]),
      'nodes.a.endpoint[1]',
      /a second ip4 address/,
    );
    rejects(
      nodes(['a: { host: a.example.org, endpoint: ["2001:db8::1"] }']),
      'nodes.a.endpoint[0]',
      /an ip6 address, but the node's address_family is ip4/,
    );
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], endpoint: [a.example.org] }'], [PREFIXES]),
      'nodes.a.endpoint[0]',
      /expected an IP address/,
    );
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], send_port: 50001 }'], [PREFIXES]),
      'nodes.a.send_port',
      /send_port: \{ip4: 50001, ip6: 50002\}/,
    );
    rejects(nodes(['a: { host: a.example.org, send_port: { ip6: 50001 } }']), 'nodes.a.send_port.ip6', /no ip6 transport/);
    rejects(
      nodes(['a: { host: a.example.org, address_family: [ip4, ip6], send_port: { ip4: 50001, ip6: 50001 } }'], [PREFIXES]),
      'nodes.a.send_port.ip6',
      /50001 is already pinned by the ip4 transport of node "a"/,
    );
    rejects(
      nodes([DUAL('a', 1), DUAL('b', 2)], [PREFIXES, 'send_port_range: [50000, 50002]']),
      'mesh.send_port_range',
      /4 transports do not fit/,
    );
  });
});

describe('SendPorts: one per transport, unique in the mesh', () => {
  it('a dual-stack node gets two; the state keeps send_port (ip4) and send_port_ip6, and reads back the same', () => {
    const inv = inventory([DUAL('a', 1), 'b: { host: 192.0.2.2 }'], [PREFIXES]);
    const { state } = ensureKeys(inv, { nodes: {} });
    assert.deepEqual([state.nodes.a!.sendPort, state.nodes.a!.sendPortIp6, state.nodes.b!.sendPort], [50000, 50001, 50002]);
    const text = formatState(state);
    assert.match(text, /\[nodes\.a\]\n.*\n.*\nsend_port = 50000\nsend_port_ip6 = 50001\n/);
    assert.doesNotMatch(text.split('[nodes.b]')[1]!, /send_port_ip6/);
    assert.deepEqual(parseState('/s.toml', text), state);
  });

  it('a single-family fleet: the state text is exactly what it was', () => {
    const state: FleetState = ensureKeys(inventory(['a: { host: 192.0.2.1 }', 'b: { host: "2001:db8::2", address_family: ip6 }']), {
      nodes: {},
    }).state;
    const text = formatState(state);
    assert.doesNotMatch(text, /ip6/);
    assert.equal(text.split('\n').filter((l) => l.startsWith('send_port')).length, 2);
  });

  it('IPv6 added to an ip4 node keeps its ip4 port (and every ip4 link); taken away again, ip6 gives its port back', () => {
    const single = inventory(['a: { host: a.example.org }', 'b: { host: b.example.org }']);
    const first = ensureKeys(single, { nodes: {} });
    const dual = inventory(['a: { host: a.example.org, address_family: [ip4, ip6] }', 'b: { host: b.example.org }'], [PREFIXES]);
    const second = ensureKeys(dual, first.state);
    assert.ok(changed(second));
    assert.deepEqual(second.reshaped, ['a']);
    assert.deepEqual(second.moved, []);
    assert.equal(second.state.nodes.a!.sendPort, first.state.nodes.a!.sendPort);
    assert.equal(second.state.nodes.a!.sendPortIp6, 50002);
    assert.equal(second.state.nodes.a!.privateKey, first.state.nodes.a!.privateKey);
    assert.equal(changed(ensureKeys(dual, second.state)), false);
    const v6only = inventory(['a: { host: a.example.org, address_family: ip6 }', 'b: { host: b.example.org }']);
    const third = ensureKeys(v6only, second.state);
    assert.deepEqual(third.state.nodes.a, { ...first.state.nodes.a!, sendPort: 50002 });
    assert.equal(sendPortOf(third.state.nodes.a!, 'ip6'), 50002);
  });

  it('a damaged send_port_ip6 is named', () => {
    const { state } = ensureKeys(inventory([DUAL('a', 1), 'b: { host: 192.0.2.2 }'], [PREFIXES]), { nodes: {} });
    const text = formatState(state).replace('send_port_ip6 = 50001', 'send_port_ip6 = 50002');
    assert.throws(
      () => parseState('/s.toml', text),
      (e: unknown) =>
        e instanceof InputError && e.where.field === 'nodes.b.send_port' && /50002 is also a SendPort of node "a"/.test(e.message),
    );
  });
});

describe('planning a dual-stack mesh', () => {
  const inv = inventory(
    [DUAL('a', 1), DUAL('b', 2), 'c: { host: 192.0.2.3 }', 'd: { host: "2001:db8::4", address_family: ip6 }'],
    [PREFIXES, NO_BABELD],
  );
  const { state } = ensureKeys(inv, { nodes: {} });
  const plan = planMesh(inv, state, {});
  const [a, b, c, d] = plan.nodes;
  const port = (n: string, family: 'ip4' | 'ip6'): number => sendPortOf(state.nodes[n]!, family);

  it('a pair gets one link per family it shares, named by the prefix and the SendPort of that family', () => {
    assert.deepEqual(
      a!.links.map((l) => [l.peer, l.family, l.name, l.listenPort, l.endpointHost, l.endpointPort]),
      [
        ['b', 'ip4', `rait4x${port('b', 'ip4')}`, port('b', 'ip4'), '192.0.2.2', port('a', 'ip4')],
        ['b', 'ip6', `rait6x${port('b', 'ip6')}`, port('b', 'ip6'), '2001:db8::2', port('a', 'ip6')],
        ['c', 'ip4', `rait4x${port('c', 'ip4')}`, port('c', 'ip4'), '192.0.2.3', port('a', 'ip4')],
        ['d', 'ip6', `rait6x${port('d', 'ip6')}`, port('d', 'ip6'), '2001:db8::4', port('a', 'ip6')],
      ],
    );
    assert.deepEqual(
      c!.links.map((l) => [l.peer, l.family]),
      [
        ['a', 'ip4'],
        ['b', 'ip4'],
      ],
    );
    assert.deepEqual(
      d!.links.map((l) => [l.peer, l.family]),
      [
        ['a', 'ip6'],
        ['b', 'ip6'],
      ],
    );
    // The two ends of each link agree, as RAIT's port rule says.
    const ba = b!.links.find((l) => l.peer === 'a' && l.family === 'ip6')!;
    assert.equal(ba.listenPort, a!.links[1]!.endpointPort);
  });

  it('one rait.conf per transport: rait.conf for the first family, rait-<family>.conf for the second', () => {
    const first = TOML.parse(b!.files['rait.conf']);
    const second = TOML.parse(b!.files['rait-ip6.conf']!);
    assert.deepEqual(
      [first.AddressFamily, first.SendPort, first.InterfacePrefix, second.AddressFamily, second.SendPort, second.InterfacePrefix],
      ['ip4', port('b', 'ip4'), 'rait4x', 'ip6', port('b', 'ip6'), 'rait6x'],
    );
    assert.equal(first.PrivateKey, second.PrivateKey);
    assert.equal(c!.files['rait-ip6.conf'], undefined);
    assert.equal(d!.files['rait-ip4.conf'], undefined);
    assert.equal(TOML.parse(d!.files['rait.conf']).AddressFamily, 'ip6');
  });

  it('peers.conf lists every transport as a peer entry', () => {
    const peers = TOML.parse(a!.files['peers.conf']).Peers as {
      PublicKey: string;
      SendPort: number;
      Endpoint: string;
      AddressFamily: string;
    }[];
    assert.deepEqual(
      peers
        .map((p) => [p.PublicKey === state.nodes.b!.publicKey ? 'b' : '', p.SendPort, p.Endpoint, p.AddressFamily])
        .filter((p) => p[0] === 'b'),
      [
        ['b', port('b', 'ip4'), '192.0.2.2', 'ip4'],
        ['b', port('b', 'ip6'), '2001:db8::2', 'ip6'],
      ],
    );
    assert.equal(peers.length, 6);
  });

  it("the agent's plan: both prefixes, and each link's family", () => {
    const text = planFile(a!, plan.mesh, 'deploy');
    assert.match(text, /^version 3\nprefix ip4 rait4x\nprefix ip6 rait6x\n/);
    assert.match(
      text,
      new RegExp(`^link rait6x${port('b', 'ip6')} ${port('b', 'ip6')} \\S+ 2001:db8::2 ${port('a', 'ip6')} fe80:\\S+ 0 ip6$`, 'm'),
    );
  });
});
