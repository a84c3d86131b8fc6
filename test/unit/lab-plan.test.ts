import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { formatAddress, nthAddress, overlaps, parseAddress, parsePrefix } from '../../src/lab/cidr.js';
import { bridgeIndex, planLab, type LabRequest } from '../../src/lab/plan.js';
import { isGeneratedInventory, isInventoryOf, renderInventory } from '../../src/lab/inventory.js';
import { sshdConfig } from '../../src/lab/node.js';
import { InputError } from '../../src/errors.js';
import { inotifyNeeded, restoredLimit } from '../../src/lab/inotify.js';
import { kernelHasWireGuard } from '../../src/lab/preflight.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirs } from '../fixtures/temp-dirs.js';

const req = (over: Partial<LabRequest> = {}): LabRequest => ({
  name: 'lab',
  nodes: 4,
  dir: '/w/.lab/lab',
  inventory: '/w/inventories/lab.yaml',
  ...over,
});
const routes = (...p: string[]) => p.map((x) => parsePrefix(x));

describe('lab cidr', () => {
  it('round-trips IPv6 addresses in RFC 5952 form', () => {
    for (const a of ['fd00:7261:6974:1::fe', '::1', 'fe80::1:0:0:1', '2001:db8:0:1:1:1:1:1', '1::', '::']) {
      const { family, value } = parseAddress(a);
      assert.equal(formatAddress(family, value), a);
    }
    assert.equal(formatAddress(6, parseAddress('2001:0:0:1:0:0:0:1').value), '2001:0:0:1::1');
  });

  it('clears host bits and tells overlap both ways', () => {
    assert.equal(nthAddress(parsePrefix('10.1.2.77/24'), 3), '10.1.2.3');
    assert.ok(overlaps(parsePrefix('10.0.0.0/8'), parsePrefix('10.231.1.0/24')));
    assert.ok(overlaps(parsePrefix('10.231.1.0/24'), parsePrefix('10.231.1.5/32')));
    assert.ok(!overlaps(parsePrefix('10.231.1.0/24'), parsePrefix('10.231.2.0/24')));
    assert.ok(!overlaps(parsePrefix('10.0.0.0/8'), parsePrefix('fd00::/8')));
    assert.throws(() => parsePrefix('10.0.0.0/33'), /prefix length/);
    assert.throws(() => parsePrefix('nope/24'), /not an IP/);
  });

  it('puts the bridge on the last usable address, at most .254 / ::fe', () => {
    assert.equal(bridgeIndex(parsePrefix('10.0.0.0/24')), 254);
    assert.equal(bridgeIndex(parsePrefix('10.0.0.0/28')), 14);
    assert.equal(bridgeIndex(parsePrefix('fd00::/64')), 254);
    assert.equal(bridgeIndex(parsePrefix('fd00::/124')), 15);
  });
});

describe('planLab', () => {
  it('picks the first slot free of every existing route, ignoring default routes', () => {
    const lab = planLab(req(), routes('0.0.0.0/0', '10.231.1.0/24', '10.232.2.0/24', '192.0.2.0/24'));
    assert.equal(lab.subnet, '10.231.3.0/24');
    assert.equal(lab.bridgeAddress, '10.231.3.254/24');
    assert.deepEqual(lab.loopbackRanges, ['10.232.3.0/24', 'fd72:6c61:6203::/48']);
    assert.deepEqual(lab.nodes.map((n) => [n.name, n.namespace, n.address, n.loopback, n.loopback4]).slice(0, 2), [
      ['n1', 'rfl-lab-1', '10.231.3.1', 'fd72:6c61:6203::1/128', '10.232.3.1/32'],
      ['n2', 'rfl-lab-2', '10.231.3.2', 'fd72:6c61:6203::2/128', '10.232.3.2/32'],
    ]);
    assert.equal(lab.bridge, 'rfl-lab');
    assert.equal(lab.nodes[3]!.dir, '/w/.lab/lab/nodes/n4');
  });

  it('plans an ip6 underlay in the ULA range', () => {
    const lab = planLab(req({ addressFamily: 'ip6', nodes: 2 }), routes('fd00:7261:6974:1::/64'));
    assert.equal(lab.subnet, 'fd00:7261:6974:2::/64');
    assert.equal(lab.bridgeAddress, 'fd00:7261:6974:2::fe/64');
    assert.equal(lab.nodes[1]!.address, 'fd00:7261:6974:2::2');
  });

  it('dual-stack: each node an address of the other family beside the first, in a slot free in both; the inventory gives both', () => {
    const lab = planLab(req({ dualStack: true, nodes: 2 }), routes('fd00:7261:6974:1::/64'));
    assert.equal(lab.subnet, '10.231.2.0/24', 'the slot whose ip6 range is taken is skipped');
    assert.deepEqual(lab.second, { subnet: 'fd00:7261:6974:2::/64', bridgeAddress: 'fd00:7261:6974:2::fe/64' });
    assert.deepEqual(
      lab.nodes.map((n) => [n.address, n.secondAddress]),
      [
        ['10.231.2.1', 'fd00:7261:6974:2::1'],
        ['10.231.2.2', 'fd00:7261:6974:2::2'],
      ],
    );
    const doc = parse(renderInventory(lab, '/t', 'x')) as { mesh: { interface_prefix: unknown }; nodes: Record<string, unknown> };
    assert.deepEqual(doc.mesh.interface_prefix, { ip4: 'rait4x', ip6: 'rait6x' });
    assert.deepEqual(doc.nodes.n1, {
      host: '10.231.2.1',
      address_family: ['ip4', 'ip6'],
      endpoint: ['10.231.2.1', 'fd00:7261:6974:2::1'],
      vars: { loopback: 'fd72:6c61:6202::1/128', loopback4: '10.232.2.1/32' },
    });
    assert.throws(() => planLab(req({ dualStack: true, nat: ['n1'] }), []), /--nat: NAT is for ip4 labs/);
  });

  it('takes a user subnet, infers its family, and rejects overlaps and misfits with the flag named', () => {
    assert.equal(planLab(req({ subnet: 'fd01::/64' }), []).addressFamily, 'ip6');
    assert.equal(planLab(req({ subnet: '172.30.9.0/28' }), []).bridgeAddress, '172.30.9.14/28');
    const fails = (r: LabRequest, re: RegExp): void =>
      assert.throws(
        () => planLab(r, routes('192.0.2.0/24')),
        (e: unknown) => e instanceof InputError && re.test(e.message),
      );
    fails(req({ subnet: '192.0.2.128/25' }), /--subnet: 192\.0\.2\.128\/25 overlaps the existing route 192\.0\.2\.0\/24/);
    fails(req({ subnet: '10.0.0.0/24', addressFamily: 'ip6' }), /--subnet: .* not an ip6 subnet/);
    fails(req({ subnet: '10.0.0.0/29', nodes: 6 }), /--nodes: .*room for 5 nodes/);
    fails(req({ nodes: 0 }), /--nodes/);
    fails(req({ name: 'Lab' }), /--name/);
    fails(req({ name: 'toolongx' }), /--name/);
    fails(req({ nat: ['n9'] }), /--nat: no node n9 in a lab of 4/);
    fails(req({ nat: ['n2'], addressFamily: 'ip6' }), /--nat: NAT is for ip4 labs/);
  });

  it('puts nodes behind routers of their own: the router has the public address, the node a private one', () => {
    const lab = planLab(req({ nat: ['n3'] }), []);
    const n3 = lab.nodes[2]!;
    assert.deepEqual(n3.nat, { namespace: 'rfl-lab-3-nat', privateAddress: '10.233.1.2', gateway: '10.233.1.1', privateLength: 24 });
    assert.equal(n3.address, '10.231.1.3', 'SSH and the inventory use the router');
    assert.equal(lab.nodes[0]!.nat, undefined);
    assert.ok(lab.loopbackRanges.includes('10.233.1.0/24'), 'the private range is routed onto the bridge, never out by default');
    assert.ok(sshdConfig(n3).split('\n').includes('ListenAddress 10.233.1.2'));
    assert.ok(
      sshdConfig(n3)
        .split('\n')
        .includes(`ListenAddress ${n3.loopback4.split('/')[0]}`),
      'and on its loopback',
    );
    assert.match(renderInventory(lab, '/t', 'x'), /\n {2}n3:\n {4}host: 10\.231\.1\.3\n {4}nat: true\n/);
  });
});

describe('lab files', () => {
  const lab = planLab(req({ nodes: 2 }), []);

  it('renders an inventory in the foundation format, recognisable by its header', () => {
    const text = renderInventory(lab, '/pkg/templates/babeld.conf.liquid', 'rait-fleet lab down --name lab');
    const doc = parse(text) as {
      mesh: { babeld: { template: string } };
      ssh: unknown;
      nodes: Record<string, unknown>;
    };
    assert.equal(doc.mesh.babeld.template, '../../pkg/templates/babeld.conf.liquid');
    assert.deepEqual(doc.ssh, {
      user: 'root',
      port: 22,
      identity_file: '/w/.lab/lab/id_ed25519',
      known_hosts: '/w/.lab/lab/known_hosts',
      host_key_checking: 'strict',
      connect_timeout: 5,
    });
    assert.deepEqual(doc.nodes.n2, {
      host: '10.231.1.2',
      address_family: 'ip4',
      vars: { loopback: 'fd72:6c61:6201::2/128', loopback4: '10.232.1.2/32' },
    });
    assert.ok(isInventoryOf(text, lab));
    assert.ok(!isInventoryOf(text, { ...lab, name: 'other' }));
    assert.ok(isGeneratedInventory(text));
    assert.ok(!isGeneratedInventory('nodes: {}\n'));
  });

  it('configures sshd for key-only root login on the node address', () => {
    const cfg = sshdConfig(lab.nodes[0]!);
    for (const line of [
      'ListenAddress 10.231.1.1',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'Subsystem sftp internal-sftp',
    ]) {
      assert.ok(cfg.split('\n').includes(line), line);
    }
  });
});

describe('lab inotify limit', () => {
  it('asks for room for two labs of that size above the default', () => {
    assert.deepEqual([4, 12, 16].map(inotifyNeeded), [152, 392, 608]);
  });

  it('down puts back what up found, unless someone changed it since or labs still up need more', () => {
    const change = { from: 128, to: 608 };
    assert.equal(restoredLimit(change, 608, 0), 128);
    assert.equal(restoredLimit(change, 700, 0), undefined, 'changed by someone else since');
    assert.equal(restoredLimit(undefined, 608, 0), undefined, 'up did not raise it');
    assert.equal(restoredLimit(change, 608, 4), 152, 'a 4-node lab still up keeps its share');
    assert.equal(restoredLimit(change, 608, 16), undefined, 'the labs still up need all of it');
    assert.equal(restoredLimit({ from: 500, to: 608 }, 608, 4), 500);
  });
});

describe('lab preflight', () => {
  const dir = tempDirs('rf-lab-preflight-');
  it('finds kernel WireGuard loaded, as a module or built in, and nowhere else', () => {
    const d = dir();
    const none = join(d, 'no-such');
    assert.equal(kernelHasWireGuard(none, none), false);
    mkdirSync(join(d, 'sys-wireguard'));
    assert.equal(kernelHasWireGuard(none, join(d, 'sys-wireguard')), true);
    const mod = join(d, 'mod');
    mkdirSync(mod);
    writeFileSync(
      join(mod, 'modules.dep'),
      'kernel/drivers/net/vrf.ko:\nkernel/drivers/net/wireguard/wireguard.ko: kernel/net/ipv4/udp_tunnel.ko\n',
    );
    assert.equal(kernelHasWireGuard(mod, none), true);
    const builtin = join(d, 'builtin');
    mkdirSync(builtin);
    writeFileSync(join(builtin, 'modules.builtin'), 'kernel/drivers/net/wireguard/wireguard.ko\n');
    assert.equal(kernelHasWireGuard(builtin, none), true);
    const other = join(d, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'modules.dep'), 'kernel/drivers/net/vrf.ko:\nkernel/fs/notwireguard.ko:\n');
    assert.equal(kernelHasWireGuard(other, none), false);
  });
});
