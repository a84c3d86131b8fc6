import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../src/errors.js';
import { loadInventory, parseInventory, resolveInventoryPath } from '../../src/inventory/load.js';
import { DEFAULT_BABELD_TEMPLATE } from '../../src/paths.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const FILE = '/fleet/inv.yaml';

/** Asserts that `text` fails with an InputError at `line` naming `field` and containing `message`. */
function rejects(text: string, line: number, field: string | undefined, message: RegExp): void {
  assert.throws(
    () => parseInventory(FILE, text),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
      assert.equal(err.where.file, FILE);
      assert.equal(err.where.line, line, err.message);
      assert.ok(err.where.column && err.where.column > 0, err.message);
      assert.equal(err.where.field, field, err.message);
      assert.ok(err.message.startsWith(`${FILE}:${line}:`), err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

const ONE_NODE = 'nodes:\n  a: { host: 192.0.2.1 }\n';

test('defaults fill every field', () => {
  const inv = parseInventory(FILE, ONE_NODE);
  assert.deepEqual(inv.mesh, {
    interfacePrefixes: { ip4: 'rait', ip6: 'rait' },
    interfaceGroup: 54,
    mtu: 1400,
    fwmark: 54,
    sendPortRange: [50000, 50999],
    isolation: 'none',
    interfaceNamespace: '',
    transitNamespace: '',
    configDir: '/etc/rait',
    healInterval: 300,
    keepalive: 25,
    babeld: {
      enabled: true,
      manage: 'agent',
      template: DEFAULT_BABELD_TEMPLATE,
      configPath: '/etc/rait/babeld.conf',
      socket: '/run/babeld.ctl',
      helloInterval: 20,
    },
    pull: null,
  });
  assert.equal(inv.statePath, '/fleet/inv.state.toml');
  assert.deepEqual(inv.ssh, {
    user: 'root',
    port: 22,
    identityFile: join(homedir(), '.ssh/id_ed25519'),
    knownHosts: join(homedir(), '.ssh/known_hosts'),
    hostKeyChecking: 'strict',
    become: false,
    connectTimeout: 10,
  });
  assert.deepEqual(inv.nodes, [
    {
      name: 'a',
      host: '192.0.2.1',
      nat: false,
      transports: [{ family: 'ip4', endpoint: '192.0.2.1' }],
      groups: [],
      vars: {},
      ssh: inv.ssh,
    },
  ]);
});

test('paths: template relative to the inventory, ~ expanded, config_path follows config_dir', () => {
  const inv = parseInventory(
    '/fleet/prod.yml',
    [
      'mesh:',
      '  config_dir: /srv/rait',
      '  babeld: { template: tpl/b.liquid }',
      'state: ../secret/prod.toml',
      'ssh: { identity_file: ~/keys/id, known_hosts: kh }',
      ONE_NODE,
    ].join('\n'),
  );
  assert.equal(inv.mesh.babeld.template, '/fleet/tpl/b.liquid');
  assert.equal(inv.mesh.babeld.configPath, '/srv/rait/babeld.conf');
  assert.equal(inv.statePath, '/secret/prod.toml');
  assert.equal(inv.ssh.identityFile, join(homedir(), 'keys/id'));
  assert.equal(inv.ssh.knownHosts, '/fleet/kh');
  assert.equal(parseInventory('/fleet/prod.yml', ONE_NODE).statePath, '/fleet/prod.state.toml');
});

test('a node ssh block overrides the top-level one field by field', () => {
  const inv = parseInventory(
    FILE,
    [
      'ssh: { user: deploy, port: 2222, jump: "bastion.example.org:22" }',
      'nodes:',
      '  a: { host: a.example.org, ssh: { port: 22, become: true } }',
      '  b: { host: b.example.org, ssh: { jump: "ops@[2001:db8::1]:2200" } }',
    ].join('\n'),
  );
  const [a, b] = inv.nodes;
  assert.equal(a!.ssh.user, 'deploy');
  assert.equal(a!.ssh.port, 22);
  assert.equal(a!.ssh.become, true);
  assert.equal(a!.ssh.jump, 'bastion.example.org:22');
  assert.equal(b!.ssh.port, 2222);
  assert.equal(b!.ssh.jump, 'ops@[2001:db8::1]:2200');
  assert.equal(inv.ssh.become, false);
});

test('node fields: endpoint, family, pin, groups, vars', () => {
  const inv = parseInventory(
    FILE,
    [
      'nodes:',
      '  hk1:',
      '    host: 192.0.2.10',
      '    endpoint: hk1.example.org',
      '    address_family: ip6',
      '    send_port: 50007',
      '    groups: [asia, edge]',
      '    vars: { loopback: "fd00:1::1/128", nested: { x: [1, 2] } }',
    ].join('\n'),
  );
  assert.deepEqual(inv.nodes[0], {
    name: 'hk1',
    host: '192.0.2.10',
    nat: false,
    transports: [{ family: 'ip6', endpoint: 'hk1.example.org', sendPort: 50007 }],
    groups: ['asia', 'edge'],
    vars: { loopback: 'fd00:1::1/128', nested: { x: [1, 2] } },
    ssh: inv.ssh,
  });
});

test('validation errors name file:line:column and the field', async (t) => {
  const cases: [string, string, number, string | undefined, RegExp][] = [
    ['YAML syntax', 'nodes:\n  a: { host: 192.0.2.1\n', 3, 'YAML syntax', /Flow map/],
    ['duplicate node name', 'nodes:\n  a: { host: 192.0.2.1 }\n  a: { host: 192.0.2.2 }\n', 3, 'nodes.a', /duplicate node name "a"/],
    ['duplicate key', 'nodes:\n  a:\n    host: 192.0.2.1\n    host: 192.0.2.2\n', 4, 'nodes.a.host', /duplicate key/],
    ['unknown top-level key', 'node:\n  a: { host: x }\n', 1, 'node', /unknown key "node" \(did you mean "nodes"\?\)/],
    ['unknown mesh key', 'mesh:\n  mut: 1400\n' + ONE_NODE, 2, 'mesh.mut', /did you mean "mtu"/],
    [
      'unknown node key',
      'nodes:\n  a: { host: 192.0.2.1, adress_family: ip6 }\n',
      2,
      'nodes.a.adress_family',
      /did you mean "address_family"/,
    ],
    ['missing host', 'nodes:\n  a: { endpoint: 192.0.2.1 }\n', 2, 'nodes.a', /missing "host"/],
    ['host with a space', 'nodes:\n  a: { host: "192.0.2.1 x" }\n', 2, 'nodes.a.host', /invalid host/],
    ['host with ;', 'nodes:\n  a: { host: "a;reboot" }\n', 2, 'nodes.a.host', /invalid host/],
    ['host with $', 'nodes:\n  a: { host: "$(id)" }\n', 2, 'nodes.a.host', /invalid host/],
    ['host with a quote', 'nodes:\n  a: { host: "a\'b" }\n', 2, 'nodes.a.host', /invalid host/],
    ['host with a newline', 'nodes:\n  a:\n    host: "a\\nb"\n', 3, 'nodes.a.host', /invalid host/],
    ['endpoint', 'nodes:\n  a: { host: a.example, endpoint: "a b" }\n', 2, 'nodes.a.endpoint', /invalid endpoint/],
    ['host not a string', 'nodes:\n  a: { host: [1] }\n', 2, 'nodes.a.host', /expected a single value/],
    ['address_family', 'nodes:\n  a: { host: a.example, address_family: ipv6 }\n', 2, 'nodes.a.address_family', /one of ip4, ip6/],
    [
      'pinned port outside the range',
      'nodes:\n  a: { host: a.example, send_port: 40000 }\n',
      2,
      'nodes.a.send_port',
      /outside send_port_range/,
    ],
    [
      'pinned twice',
      'nodes:\n  a: { host: a.example, send_port: 50001 }\n  b: { host: b.example, send_port: 50001 }\n',
      3,
      'nodes.b.send_port',
      /already pinned by node "a"/,
    ],
    ['port not an integer', 'nodes:\n  a: { host: a.example, send_port: "50001" }\n', 2, 'nodes.a.send_port', /expected an integer/],
    [
      'range too small',
      'mesh:\n  send_port_range: [50000, 50001]\nnodes:\n  a: { host: a.example }\n  b: { host: b.example }\n  c: { host: c.example }\n',
      2,
      'mesh.send_port_range',
      /3 nodes do not fit/,
    ],
    ['range reversed', 'mesh:\n  send_port_range: [50010, 50000]\n' + ONE_NODE, 2, 'mesh.send_port_range', /above last port/],
    ['range shape', 'mesh:\n  send_port_range: [50000]\n' + ONE_NODE, 2, 'mesh.send_port_range', /\[first, last\]/],
    ['range port', 'mesh:\n  send_port_range: [50000, 70000]\n' + ONE_NODE, 2, 'mesh.send_port_range[1]', /outside 1\.\.65535/],
    ['interface name too long', 'mesh:\n  interface_prefix: verylongprefix\n' + ONE_NODE, 2, 'mesh.interface_prefix', /is 19 bytes/],
    ['interface prefix charset', 'mesh:\n  interface_prefix: "r$"\n' + ONE_NODE, 2, 'mesh.interface_prefix', /invalid interface prefix/],
    ['mtu low', 'mesh:\n  mtu: 1279\n' + ONE_NODE, 2, 'mesh.mtu', /outside 1280\.\.65535/],
    ['mtu high', 'mesh:\n  mtu: 65536\n' + ONE_NODE, 2, 'mesh.mtu', /outside 1280\.\.65535/],
    [
      'babel hello interval zero',
      'mesh:\n  babeld:\n    hello_interval: 0\n' + ONE_NODE,
      3,
      'mesh.babeld.hello_interval',
      /outside 1\.\.600/,
    ],
    ['empty nodes', 'mesh:\n  mtu: 1400\nnodes: {}\n', 3, 'nodes', /no nodes/],
    ['no nodes key', 'mesh:\n  mtu: 1400\n', 1, 'nodes', /no nodes/],
    ['isolation', 'mesh:\n  isolation: netn\n' + ONE_NODE, 2, 'mesh.isolation', /did you mean "netns"/],
    [
      'namespace charset',
      'mesh:\n  isolation: netns\n  interface_namespace: "a b"\n' + ONE_NODE,
      3,
      'mesh.interface_namespace',
      /invalid namespace name/,
    ],
    ['namespace without isolation', 'mesh:\n  transit_namespace: transit\n' + ONE_NODE, 2, 'mesh.transit_namespace', /needs isolation/],
    ['config_dir relative', 'mesh:\n  config_dir: etc/rait\n' + ONE_NODE, 2, 'mesh.config_dir', /invalid path/],
    [
      'config_path with a space',
      'mesh:\n  babeld:\n    config_path: "/etc/my rait.conf"\n' + ONE_NODE,
      3,
      'mesh.babeld.config_path',
      /invalid path/,
    ],
    ['socket with ;', 'mesh:\n  babeld: { socket: "/run/x;rm" }\n' + ONE_NODE, 2, 'mesh.babeld.socket', /invalid path/],
    ['babeld enabled not boolean', 'mesh:\n  babeld: { enabled: yes }\n' + ONE_NODE, 2, 'mesh.babeld.enabled', /true or false/],
    ['host_key_checking', 'ssh:\n  host_key_checking: no\n' + ONE_NODE, 2, 'ssh.host_key_checking', /strict, accept-new, off/],
    ['ssh user', 'ssh:\n  user: "root;id"\n' + ONE_NODE, 2, 'ssh.user', /invalid user name/],
    ['jump', 'nodes:\n  a:\n    host: a.example\n    ssh: { jump: "x y" }\n', 4, 'nodes.a.ssh.jump', /invalid jump host/],
    ['node name', 'nodes:\n  "a b": { host: a.example }\n', 2, 'nodes.a b', /invalid node name/],
    ['group name', 'nodes:\n  a: { host: a.example, groups: ["x;y"] }\n', 2, 'nodes.a.groups[0]', /invalid group name/],
    ['vars not a mapping', 'nodes:\n  a: { host: a.example, vars: [1] }\n', 2, 'nodes.a.vars', /expected a mapping/],
    ['nodes not a mapping', 'nodes: [a]\n', 1, 'nodes', /expected a mapping/],
    ['pull without url', 'mesh:\n  pull: { interval: 600 }\n' + ONE_NODE, 2, 'mesh.pull', /missing "url"/],
    ['pull: empty', 'mesh:\n  pull:\n' + ONE_NODE, 2, 'mesh.pull', /missing "url"/],
    ['pull url scheme', 'mesh:\n  pull: { url: "ftp://x.example/r" }\n' + ONE_NODE, 2, 'mesh.pull.url', /invalid url/],
    ['pull url query', 'mesh:\n  pull: { url: "https://x.example/r?a=1" }\n' + ONE_NODE, 2, 'mesh.pull.url', /invalid url/],
    ['pull url user', 'mesh:\n  pull: { url: "https://u@x.example/r" }\n' + ONE_NODE, 2, 'mesh.pull.url', /invalid url/],
    ['pull url quote', 'mesh:\n  pull: { url: "https://x.example/a\'b" }\n' + ONE_NODE, 2, 'mesh.pull.url', /invalid url/],
    [
      'pull interval',
      'mesh:\n  pull: { url: "https://x.example/r", interval: 5 }\n' + ONE_NODE,
      2,
      'mesh.pull.interval',
      /outside 10\.\.86400/,
    ],
    [
      'pull key',
      'mesh:\n  pull: { url: "https://x.example/r", intervall: 60 }\n' + ONE_NODE,
      2,
      'mesh.pull.intervall',
      /did you mean "interval"/,
    ],
  ];
  for (const [name, text, line, field, message] of cases) {
    await t.test(name, () => rejects(text, line, field, message));
  }
});

test('resolveInventoryPath: argument, then $RAIT_FLEET_INVENTORY, then ./inventory.yaml', () => {
  const saved = process.env.RAIT_FLEET_INVENTORY;
  try {
    delete process.env.RAIT_FLEET_INVENTORY;
    assert.equal(resolveInventoryPath(), join(process.cwd(), 'inventory.yaml'));
    process.env.RAIT_FLEET_INVENTORY = '/x/env.yaml';
    assert.equal(resolveInventoryPath(), '/x/env.yaml');
    assert.equal(resolveInventoryPath('rel.yaml'), join(process.cwd(), 'rel.yaml'));
  } finally {
    if (saved === undefined) delete process.env.RAIT_FLEET_INVENTORY;
    else process.env.RAIT_FLEET_INVENTORY = saved;
  }
});

test('loadInventory: a missing file is an InputError naming it', () => {
  const file = join(tempDirs('rf-inv-')(), 'none.yaml');
  assert.throws(
    () => loadInventory(file),
    (e: unknown) => e instanceof InputError && e.message.startsWith(file),
  );
  writeFileSync(file, ONE_NODE);
  assert.equal(loadInventory(file).nodes.length, 1);
});

test('mesh.pull: the URL without its trailing slash, a default interval', () => {
  const inv = parseInventory(FILE, 'mesh:\n  pull: { url: "https://mesh.example.org:8443/rait/" }\n' + ONE_NODE);
  assert.deepEqual(inv.mesh.pull, { url: 'https://mesh.example.org:8443/rait', interval: 600 });
  const ip6 = parseInventory(FILE, 'mesh:\n  pull: { url: "http://[2001:db8::1]/r", interval: 60 }\n' + ONE_NODE);
  assert.deepEqual(ip6.mesh.pull, { url: 'http://[2001:db8::1]/r', interval: 60 });
  assert.equal(parseInventory(FILE, ONE_NODE).mesh.pull, null);
});

test('inventories/example.yaml loads and shows every field', () => {
  const file = fileURLToPath(new URL('../../../inventories/example.yaml', import.meta.url));
  const inv = loadInventory(file);
  assert.deepEqual(
    inv.nodes.map((n) => n.name),
    ['hk1', 'fra1'],
  );
  assert.equal(inv.nodes[0]!.transports[0]!.sendPort, 50007);
  assert.equal(inv.nodes[1]!.ssh.user, 'admin');
  assert.equal(inv.nodes[1]!.ssh.become, true);
  assert.equal(inv.mesh.babeld.template, DEFAULT_BABELD_TEMPLATE);
});

test('YAML anchors and aliases work for shared settings', () => {
  const inv = parseInventory(
    FILE,
    [
      'nodes:',
      '  a: { host: a.example, vars: &v { loopback: "fd00::1/128", list: [1] }, ssh: &s { user: ops } }',
      '  b: { host: b.example, vars: *v, ssh: *s }',
    ].join('\n'),
  );
  assert.deepEqual(inv.nodes[1]!.vars, { loopback: 'fd00::1/128', list: [1] });
  assert.equal(inv.nodes[1]!.ssh.user, 'ops');
});
