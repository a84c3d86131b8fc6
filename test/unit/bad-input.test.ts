// Bad input through the real CLI: every malformed inventory, state file or flag exits 2 with a message
// naming the file, line and field (or the flag), and leaves every file as it was. No network: hosts are
// loopback addresses with SSH on a closed port, and deploy must refuse before connecting anyway.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatState } from '../../src/state/codec.js';
import { generatePrivateKey, publicKeyOf } from '../../src/state/keys.js';
import type { NodeKeys } from '../../src/state/types.js';
import { CLI, escapeRegExp } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const root = tempDirs('rf-bad-input-')();

const SSH = 'ssh: { port: 9, connect_timeout: 2, identity_file: ./id, known_hosts: ./known_hosts }\n';
/** A valid inventory with node a's fields and extra mesh settings spliced in. */
function inventory({ a = 'host: 127.0.0.1', mesh = '', b = 'host: 127.0.0.2, send_port: 50100' } = {}): string {
  return `${mesh ? `mesh: { ${mesh} }\n` : ''}${SSH}nodes:\n  a: { ${a} }\n  b: { ${b} }\n`;
}
const GOOD = inventory({ a: 'host: 127.0.0.1, vars: { loopback: "fd00::a/128" }' });

function keys(sendPort: number): NodeKeys {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyOf(privateKey), sendPort };
}
const A = keys(50000);
const B = keys(50100);
const OTHER = keys(1);
const STATE = formatState({ nodes: { a: A, b: B } });
/** STATE with one line of node `node` replaced. */
function stateWith(node: 'a' | 'b', key: string, value: string): string {
  const own = node === 'a' ? A : B;
  const old = { private_key: `"${own.privateKey}"`, public_key: `"${own.publicKey}"`, send_port: String(own.sendPort) }[key];
  const line = `${key} = ${old}`;
  assert.ok(STATE.includes(line), line);
  return STATE.replace(line, `${key} = ${value}`);
}

interface Case {
  name: string;
  args: string[];
  /** Inventory text (default: GOOD). */
  inv?: string;
  /** State file text (default: none). */
  state?: string;
  /** The file the message must name, and where: `at` is text on the expected line, or `line` the line. */
  names?: { file: 'inventory' | 'state'; at?: string; line?: number };
  /** The field or the flag the message must name. */
  field: string;
}

const I = (name: string, inv: string, field: string, at: string, args = ['keygen']): Case => ({
  name,
  args,
  inv,
  names: { file: 'inventory', at },
  field,
});
const S = (name: string, state: string, field: string, at: string | number, args = ['keygen']): Case => ({
  name,
  args,
  state,
  names: { file: 'state', ...(typeof at === 'number' ? { line: at } : { at }) },
  field,
});
const F = (name: string, args: string[], field: string, state?: string): Case => ({ name, args, field, state });

const cases: Case[] = [
  // YAML itself
  {
    name: 'invalid YAML: unclosed flow mapping',
    args: ['keygen'],
    inv: 'nodes:\n  a: { host: 127.0.0.1\n  b: { host: 127.0.0.2 }\n',
    names: { file: 'inventory', line: 3 },
    field: 'YAML syntax',
  },
  {
    name: 'invalid YAML: tab indentation',
    args: ['deploy'],
    inv: 'nodes:\n\ta: { host: 127.0.0.1 }\n',
    names: { file: 'inventory', line: 2 },
    field: 'YAML syntax',
  },
  I('a list instead of a mapping at the top', '- nodes\n- a\n', '(top level)', '- nodes'),
  I('empty inventory', '# nothing\n', 'nodes', '# nothing'),
  // wrong types
  I('mtu is a word', inventory({ mesh: 'mtu: big' }), 'mesh.mtu', 'mtu: big'),
  I('host is a list', inventory({ a: 'host: [127.0.0.1, 127.0.0.3]' }), 'nodes.a.host', 'host: [127.0.0.1'),
  I('nodes is a list', `${SSH}nodes:\n  - host: 127.0.0.1\n`, 'nodes', '- host'),
  I('become is a string', inventory({ a: 'host: 127.0.0.1, ssh: { become: "yes" }' }), 'nodes.a.ssh.become', 'become', [
    'render',
    '-n',
    'a',
  ]),
  I('address_family ip5', inventory({ a: 'host: 127.0.0.1, address_family: ip5' }), 'nodes.a.address_family', 'ip5'),
  // unknown keys, duplicates
  I('unknown top-level key', `${GOOD}nodez: {}\n`, 'nodez', 'nodez'),
  I('unknown node key', inventory({ a: 'hots: 127.0.0.1' }), 'nodes.a.hots', 'hots'),
  I('unknown babeld key', inventory({ mesh: 'babeld: { enable: false }' }), 'mesh.babeld.enable', 'enable'),
  I('duplicate node name', `${GOOD}  a: { host: 127.0.0.3 }\n`, 'nodes.a', '127.0.0.3', ['deploy']),
  I('duplicate pinned port', inventory({ a: 'host: 127.0.0.1, send_port: 50100' }), 'nodes.b.send_port', 'host: 127.0.0.2'),
  // metacharacters and newlines in values that reach the agent's shell or a config file
  I('host with ;', inventory({ a: 'host: "127.0.0.1;reboot"' }), 'nodes.a.host', 'reboot', ['deploy']),
  I('host with a newline', inventory({ a: 'host: "127.0.0.1\\nreboot"' }), 'nodes.a.host', 'reboot'),
  I('host with $()', inventory({ a: 'host: "$(reboot)"' }), 'nodes.a.host', 'reboot', ['deploy']),
  I('host with a space', inventory({ a: 'host: "127.0.0.1 -oProxyCommand=x"' }), 'nodes.a.host', 'ProxyCommand'),
  I('endpoint with a backtick', inventory({ a: 'host: 127.0.0.1, endpoint: "a`id`"' }), 'nodes.a.endpoint', 'endpoint', ['deploy']),
  I('endpoint with a newline', inventory({ a: 'host: 127.0.0.1, endpoint: "a.example\\nlink x"' }), 'nodes.a.endpoint', 'endpoint'),
  I('endpoint with a quote', inventory({ a: `host: 127.0.0.1, endpoint: "a'b"` }), 'nodes.a.endpoint', 'endpoint', ['render', '-n', 'b']),
  I('endpoint with an IPv6 zone', inventory({ a: 'host: 127.0.0.1, endpoint: "fe80::1%eth0"' }), 'nodes.a.endpoint', 'fe80', ['deploy']),
  I('host with an IPv6 zone and no endpoint', inventory({ a: 'host: "fe80::1%lo"' }), 'nodes.a.host', 'fe80'),
  // What real RAIT v2.4.1 refuses or drops silently.
  I('endpoint ending in a dot', inventory({ a: 'host: 127.0.0.1, endpoint: a.example.org.' }), 'nodes.a.endpoint', 'a.example.org.', [
    'deploy',
  ]),
  I('host ending in a dot and no endpoint', inventory({ a: 'host: a.example.org.' }), 'nodes.a.host', 'a.example.org.'),
  I(
    'interface_group above a signed 32-bit int',
    inventory({ mesh: 'interface_group: 2147483648' }),
    'mesh.interface_group',
    'interface_group',
  ),
  I(
    'loopback without a prefix length',
    inventory({ a: 'host: 127.0.0.1, vars: { loopback: "fd00::a" }' }),
    'nodes.a.vars.loopback',
    'fd00::a',
  ),
  I(
    'vrf with links enslaved to a VRF and babeld on: babeld cannot see them',
    inventory({ mesh: 'isolation: vrf, interface_namespace: vrf-mesh' }),
    'mesh.interface_namespace',
    'vrf-mesh',
  ),
  I('babeld.manage neither agent nor external', inventory({ mesh: 'babeld: { manage: systemd }' }), 'mesh.babeld.manage', 'systemd'),
  I('interface_prefix with ;', inventory({ mesh: 'interface_prefix: "wg;"' }), 'mesh.interface_prefix', 'wg;', ['deploy']),
  I('interface_prefix with a newline', inventory({ mesh: 'interface_prefix: "wg\\nx"' }), 'mesh.interface_prefix', 'interface_prefix'),
  I(
    'interface_namespace with $',
    inventory({ mesh: 'isolation: netns, interface_namespace: "ns$x"' }),
    'mesh.interface_namespace',
    'ns$x',
    ['deploy'],
  ),
  I('transit_namespace with a space', inventory({ mesh: 'isolation: netns, transit_namespace: "a b"' }), 'mesh.transit_namespace', 'a b'),
  I('namespace without isolation', inventory({ mesh: 'interface_namespace: overlay' }), 'mesh.interface_namespace', 'overlay'),
  I('config_dir with a space', inventory({ mesh: 'config_dir: "/etc/r ait"' }), 'mesh.config_dir', 'r ait', ['deploy']),
  I('config_dir with ;', inventory({ mesh: 'config_dir: "/etc/rait;rm"' }), 'mesh.config_dir', 'rait;rm'),
  I('config_dir relative', inventory({ mesh: 'config_dir: etc/rait' }), 'mesh.config_dir', 'etc/rait'),
  I('config_dir with a newline', inventory({ mesh: 'config_dir: "/etc/rait\\n/x"' }), 'mesh.config_dir', 'config_dir', ['deploy']),
  I('babeld socket with a backtick', inventory({ mesh: 'babeld: { socket: "/run/`id`" }' }), 'mesh.babeld.socket', 'socket'),
  I('babeld config_path with ..', inventory({ mesh: 'babeld: { config_path: /etc/../x }' }), 'mesh.babeld.config_path', 'config_path'),
  I('ssh user with ;', inventory({ a: 'host: 127.0.0.1, ssh: { user: "root;id" }' }), 'nodes.a.ssh.user', 'root;id', ['deploy']),
  I('jump host with a space', `${SSH.replace(' }', ', jump: "a b" }')}nodes:\n  a: { host: 127.0.0.1 }\n`, 'ssh.jump', 'jump'),
  I('node name with ;', `${SSH}nodes:\n  "a;b": { host: 127.0.0.1 }\n`, 'nodes.a;b', 'a;b'),
  I('group name with a space', inventory({ a: 'host: 127.0.0.1, groups: ["eu west"]' }), 'nodes.a.groups[0]', 'eu west'),
  // vars: the routed ones are written into babeld.conf; any of them may be, by a user template
  I(
    'loopback with a newline',
    inventory({ a: 'host: 127.0.0.1, vars: { loopback: "fd00::1/128\\nredistribute local deny" }' }),
    'nodes.a.vars.loopback',
    'loopback',
    ['deploy'],
  ),
  I('loopback4 with ;', inventory({ a: 'host: 127.0.0.1, vars: { loopback4: "10.0.0.1/32;x" }' }), 'nodes.a.vars.loopback4', 'loopback4'),
  I('loopback is IPv4', inventory({ a: 'host: 127.0.0.1, vars: { loopback: 10.0.0.1/32 }' }), 'nodes.a.vars.loopback', 'loopback', [
    'render',
    '-n',
    'a',
  ]),
  I(
    'prefixes item with a space',
    inventory({ a: 'host: 127.0.0.1, vars: { prefixes: ["fd00::/48", "fd01::/48 allow"] }' }),
    'nodes.a.vars.prefixes[1]',
    'prefixes',
  ),
  I('prefixes not a list', inventory({ a: 'host: 127.0.0.1, vars: { prefixes: "fd00::/48" }' }), 'nodes.a.vars.prefixes', 'prefixes'),
  I(
    'free-form var with a newline',
    inventory({ a: 'host: 127.0.0.1, vars: { motd: "hi\\ninterface eth0" }' }),
    'nodes.a.vars.motd',
    'motd',
    ['deploy'],
  ),
  I(
    'nested var with an escape character',
    inventory({ a: 'host: 127.0.0.1, vars: { site: { rack: ["r1", "\\e[2J"] } }' }),
    'nodes.a.vars.site.rack[1]',
    'site',
  ),
  I('var containing itself', inventory({ a: 'host: 127.0.0.1, vars: { x: &x [1, *x] }' }), 'nodes.a.vars.x[1]', '&x'),
  I(
    'alias bomb in vars',
    `${SSH}nodes:\n  a:\n    host: 127.0.0.1\n    vars:\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
      { length: 8 },
      (_, i) => `      l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]\n`,
    ).join('')}`,
    'nodes.a.vars.l2',
    'l2:',
  ),
  // names and ports
  I('interface names over 15 bytes', inventory({ mesh: 'interface_prefix: raitraitrait' }), 'mesh.interface_prefix', 'raitraitrait'),
  I(
    'interface names over 15 bytes with the range',
    inventory({ mesh: 'interface_prefix: wgmeshmesh1, send_port_range: [1000, 65000]' }),
    'mesh.interface_prefix',
    'wgmeshmesh1',
    ['deploy'],
  ),
  I('send_port 70000', inventory({ a: 'host: 127.0.0.1, send_port: 70000' }), 'nodes.a.send_port', '70000'),
  I('send_port outside the range', inventory({ a: 'host: 127.0.0.1, send_port: 40000' }), 'nodes.a.send_port', '40000'),
  I('send_port_range from 0', inventory({ mesh: 'send_port_range: [0, 100]' }), 'mesh.send_port_range[0]', 'send_port_range'),
  I('send_port_range too small', inventory({ mesh: 'send_port_range: [50100, 50100]' }), 'mesh.send_port_range', 'send_port_range', [
    'deploy',
  ]),
  I('ssh port 0', inventory({ a: 'host: 127.0.0.1, ssh: { port: 0 }' }), 'nodes.a.ssh.port', 'port: 0'),
  I('mtu below 1280', inventory({ mesh: 'mtu: 100' }), 'mesh.mtu', 'mtu'),
  // the state file
  S('truncated state file', STATE.slice(0, STATE.indexOf(B.publicKey) + 10), 'TOML syntax', B.publicKey.slice(0, 10)),
  S('binary garbage', '\u0000\u0001\u00ff garbage = = =\n', 'TOML syntax', 1, ['deploy']),
  S('private key not base64', stateWith('a', 'private_key', '"not-a-key"'), 'nodes.a.private_key', 'not-a-key'),
  S(
    'private key of 31 bytes',
    stateWith('a', 'private_key', `"${Buffer.alloc(31, 7).toString('base64')}"`),
    'nodes.a.private_key',
    'private_key',
    ['deploy'],
  ),
  S(
    'public key of 33 bytes',
    stateWith('b', 'public_key', `"${Buffer.alloc(33, 7).toString('base64')}"`),
    'nodes.b.public_key',
    Buffer.alloc(33, 7).toString('base64'),
  ),
  S(
    'public key of another node',
    stateWith('b', 'public_key', `"${A.publicKey}"`),
    'nodes.b.public_key',
    STATE.split('\n').indexOf(`public_key = "${B.publicKey}"`) + 1,
    ['render', '-n', 'a'],
  ),
  // A pair is checked where its private key is used: render of that node showing it, deploy of it, keygen of all.
  ...[['render', '-n', 'b', '--show-secrets'], ['deploy', '--limit', 'b'], ['keygen']].map((args) =>
    S(
      `public key not matching the private key (${args.join(' ')})`,
      stateWith('b', 'public_key', `"${OTHER.publicKey}"`),
      'nodes.b.public_key',
      STATE.split('\n').indexOf(`public_key = "${B.publicKey}"`) + 1,
      args,
    ),
  ),
  S('send_port out of range', stateWith('a', 'send_port', '70000'), 'nodes.a.send_port', '70000'),
  S('send_port a string', stateWith('a', 'send_port', '"50000"'), 'nodes.a.send_port', '"50000"'),
  S(
    'two nodes with one port',
    stateWith('b', 'send_port', '50000'),
    'nodes.b.send_port',
    STATE.split('\n').indexOf('send_port = 50100') + 1,
  ),
  S('unknown key in a node', STATE.replace('[nodes.a]\n', '[nodes.a]\ncomment = "x"\n'), 'nodes.a.comment', 'comment'),
  S('version 2', STATE.replace('version = 1', 'version = 2'), 'version', 'version = 2', ['deploy']),
  // flags
  F('deploy --forks 0', ['deploy', '--forks', '0'], '--forks'),
  F('deploy --forks abc', ['deploy', '--forks', 'abc'], '--forks', STATE),
  F('down --forks=-1', ['down', '--forks=-1'], '--forks'),
  F('deploy --limit unknown-node (no state yet: none is written)', ['deploy', '--limit', 'unknown-node'], '--limit'),
  F('down --limit unknown-node', ['down', '--limit', 'a,unknown-node'], '--limit', STATE),
  F('deploy --limit ","', ['deploy', '--limit', ','], '--limit'),
  F('status --limit unknown-group', ['status', '--limit', 'asia'], '--limit'),
  F('render --file bogus', ['render', '-n', 'a', '--file', 'bogus'], '--file'),
  F('render --node unknown (no state yet: none is written)', ['render', '-n', 'zz'], '--node'),
  F('render without --node', ['render'], '--node', STATE),
  F('status --watch abc', ['status', '--watch', 'abc'], '--watch'),
  F('keygen --rotate unknown', ['keygen', '--rotate', 'zz'], '--rotate', STATE),
  F('deploy --bogus', ['deploy', '--bogus'], '--bogus'),
  F('deploy --serial 0', ['deploy', '--serial', '0'], '--serial'),
  F('deploy --serial 1,,2', ['deploy', '--serial', '1,,2'], '--serial', STATE),
  F('deploy --serial 150%', ['deploy', '--serial', '150%'], '--serial'),
  F('deploy --max-fail without --serial', ['deploy', '--max-fail', '1'], '--max-fail', STATE),
  F('deploy --max-fail 1.5', ['deploy', '--serial', '1', '--max-fail', '1.5'], '--max-fail'),
  F('deploy --gate-timeout without --serial', ['deploy', '--gate-timeout', '10'], '--gate-timeout'),
  F('deploy --gate-timeout 0', ['deploy', '--serial', '1', '--gate-timeout', '0'], '--gate-timeout'),
  F('deploy --confirm-timeout 2 (too short to confirm)', ['deploy', '--confirm-timeout', '2'], '--confirm-timeout', STATE),
  F('deploy --check --serial', ['deploy', '--check', '--serial', '1'], '--serial', STATE),
  F('exporter without --listen', ['exporter'], '--listen'),
  F('exporter --listen without a port', ['exporter', '--listen', '127.0.0.1'], '--listen'),
  F('exporter --listen with a port past 65535', ['exporter', '--listen', '127.0.0.1:65536'], '--listen'),
  F('exporter --listen with IPv4 in brackets', ['exporter', '--listen', '[127.0.0.1]:9455'], '--listen'),
  F('exporter --listen with a bare IPv6 address', ['exporter', '--listen', '::1:9455'], '--listen'),
  F('exporter --interval 0', ['exporter', '--listen', '127.0.0.1:0', '--interval', '0'], '--interval'),
  F('exporter --limit unknown: refused before it listens', ['exporter', '--listen', '127.0.0.1:0', '--limit', 'zz'], '--limit'),
];

/** Every file under `dir`: name -> size, mtime, mode, content hash. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out.set(`${p}/`, `${st.mode}`);
        walk(p);
      } else {
        const hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        out.set(p, `${st.size} ${st.mtimeMs} ${st.mode} ${hash}`);
      }
    }
  };
  walk(dir);
  return out;
}

function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `"${needle}" is not in the file`);
  return text.slice(0, i).split('\n').length;
}

test('the table has at least 30 malformed inventories and state files, and covers flags', () => {
  assert.ok(cases.filter((c) => c.names).length >= 30);
  assert.ok(cases.filter((c) => !c.names).length >= 8);
});

for (const [i, c] of cases.entries()) {
  test(`bad input: ${c.name}`, () => {
    const dir = join(root, String(i));
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const inv = join(dir, 'fleet.yaml');
    const statePath = join(dir, 'fleet.state.toml');
    writeFileSync(inv, c.inv ?? GOOD);
    if (c.state !== undefined) writeFileSync(statePath, c.state, { mode: 0o600 });
    const before = snapshot(dir);
    const stateBefore = c.state === undefined ? undefined : readFileSync(statePath);

    const [command, ...flags] = c.args;
    const r = spawnSync(process.execPath, [CLI, command!, ...flags, inv], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, HOME: home, RAIT_FLEET_INVENTORY: '', RAIT_FLEET_SSH_CONFIG: join(home, 'no-ssh-config') },
    });

    assert.equal(r.status, 2, `exit code\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout, '');
    if (c.names) {
      const file = c.names.file === 'inventory' ? inv : statePath;
      const line = c.names.line ?? lineOf(readFileSync(file, 'utf8'), c.names.at!);
      assert.match(r.stderr, new RegExp(`^rait-fleet: ${escapeRegExp(file)}:${line}(:\\d+)?: ${escapeRegExp(c.field)}: \\S`, 'm'));
    } else {
      assert.ok(r.stderr.includes(c.field), `the message names ${c.field}: ${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(snapshot(dir), before, 'no file written, changed or left behind');
    if (stateBefore) assert.deepEqual(readFileSync(statePath), stateBefore);
  });
}

test('everything a valid inventory puts in the agent plan is made of shell-safe characters', async () => {
  const { parseInventory } = await import('../../src/inventory/load.js');
  const { planMesh } = await import('../../src/mesh/plan.js');
  const { planFile } = await import('../../src/agent/payload.js');
  const { ensureKeys } = await import('../../src/state/allocate.js');
  // The widest values validation lets through, one of each kind.
  const inv = parseInventory(
    '/fleet/edge.yaml',
    [
      'mesh: { interface_prefix: w_g-, isolation: netns, interface_namespace: ov.er_l-ay, transit_namespace: t-1, config_dir: /etc/r_a.i+t-/, babeld: { socket: /run/b.ctl } }',
      'nodes:',
      '  a.b_c-d: { host: "fe80::1%eth0", endpoint: "2001:db8::1" }',
      '  e: { host: host-1.example.org., endpoint: "2001:db8::2" }',
      '  f: { host: 127.0.0.1, address_family: ip4 }',
      '',
    ].join('\n'),
  );
  const plan = planMesh(inv, ensureKeys(inv, { nodes: {} }).state, { babeld: 'interface x\n' });
  for (const np of plan.nodes) {
    for (const mode of ['deploy', 'down', 'status'] as const) {
      for (const line of planFile(np, plan.mesh, mode).trimEnd().split('\n')) {
        assert.match(line, /^[a-z_]+( [A-Za-z0-9._:/+=-]+)+$/, line);
      }
    }
  }
});
