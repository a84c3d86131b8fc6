import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { DEFAULT_BABELD_TEMPLATE } from '../../src/paths.js';
import { planMesh, renderFilesOf } from '../../src/mesh/plan.js';
import { compileTemplate, renderTemplate, sharedScope, templateScope } from '../../src/mesh/template.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { inventory } from '../fixtures/inventories.js';

const shipped = readFileSync(DEFAULT_BABELD_TEMPLATE, 'utf8');

function setup(mesh: string[] = []) {
  const inv = inventory(
    [
      'a: { host: 192.0.2.1, vars: { loopback: "fd00::a/128", loopback4: "10.9.0.1/32", prefixes: ["fd00:a::/48"], site: hk } }',
      'b: { host: 192.0.2.2 }',
      'c: { host: 192.0.2.3 }',
    ],
    mesh,
  );
  const { state } = ensureKeys(inv, { nodes: {} });
  return { inv, state, plan: planMesh(inv, state, { babeld: shipped }) };
}

test("the shipped babeld template: classic line, one interface per link, redistribution; the socket is the agent's", () => {
  const { plan } = setup(['babeld: { socket: /run/rf/babeld.ctl }']);
  const conf = plan.nodes[0]!.files['babeld.conf']!;
  const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(lines, [
    'default type tunnel link-quality true split-horizon false rxcost 32 hello-interval 20 max-rtt-penalty 1024 rtt-max 1024',
    ...plan.nodes[0]!.links.map((l) => `interface ${l.name}`),
    'redistribute local ip fd00::a/128 allow',
    'redistribute local ip 10.9.0.1/32 allow',
    'redistribute local ip fd00:a::/48 allow',
    'redistribute local deny',
  ]);
  const plain = plan.nodes[1]!.files['babeld.conf']!.split('\n').filter((l) => l.startsWith('redistribute'));
  assert.deepEqual(plain, ['redistribute local deny']);
});

test('the shipped babeld template gives a node without links no interface line', () => {
  const inv = inventory(['solo: { host: 192.0.2.1 }']);
  const plan = planMesh(inv, ensureKeys(inv, { nodes: {} }).state, { babeld: shipped });
  const conf = plan.nodes[0]!.files['babeld.conf']!;
  assert.equal(plan.nodes[0]!.links.length, 0);
  assert.doesNotMatch(conf, /^interface/m);
  assert.match(conf, /^default type tunnel .*\n\n# Announce/m);
});

test("a template naming another control socket is refused: babeld would take it over the agent's", () => {
  const inv = parseInventory(
    '/inv/mesh.yaml',
    'mesh: { babeld: { template: t.liquid } }\nnodes: { n1: { host: 10.0.0.1 }, n2: { host: 10.0.0.2 } }\n',
  );
  const { state } = ensureKeys(inv, { nodes: {} });
  const template = 'random-id true\nlocal-path-readwrite /var/run/babeld.sock\n{% for i in LinkList %}interface {{ i }}\n{% endfor %}';
  assert.throws(
    () => planMesh(inv, state, { babeld: template }).nodes[0]!.files,
    /\/inv\/t\.liquid: mesh\.babeld\.template: the babeld\.conf it renders for n1 has "local-path-readwrite \/var\/run\/babeld\.sock" \(line 2\).*mesh\.babeld\.socket \(\/run\/babeld\.ctl\)/,
  );
  // The same path as the socket is harmless; with manage external the config is the operator's.
  for (const [mesh, line] of [
    ['{ template: t.liquid }', 'local-path-readwrite /run/babeld.ctl'],
    ['{ template: t.liquid, manage: external }', 'local-path-readwrite /var/run/babeld.sock'],
  ]) {
    const ok = parseInventory('/inv/mesh.yaml', `mesh: { babeld: ${mesh} }\nnodes: { n1: { host: 10.0.0.1 }, n2: { host: 10.0.0.2 } }\n`);
    assert.ok(planMesh(ok, ensureKeys(ok, { nodes: {} }).state, { babeld: `${line}\n` }).nodes[0]!.files['babeld.conf']);
  }
});

test('template variables: node, links, LinkList, nodes, mesh; no private keys', () => {
  const { plan, state } = setup();
  const text = [
    '{{ node.name }} {{ node.send_port }} {{ node.public_key }} {{ node.address_family }} {{ node.vars.site }}',
    '{% for l in links %}{{ l.name }},{{ l.peer }},{{ l.peer_public_key }},{{ l.link_local }};{% endfor %}',
    '{{ LinkList | join: " " }}',
    '{% for n in nodes %}{{ n.name }}={{ n.send_port }}/{{ n.private_key }}{{ n.privateKey }} {% endfor %}',
    '{{ mesh.interface_prefix }} {{ mesh.mtu }} {{ mesh.babeld.socket }} {{ mesh.send_port_range[1] }}',
  ].join('\n');
  const a = plan.nodes[0]!;
  const out = renderTemplate(compileTemplate(text, '/t.liquid'), templateScope(a, sharedScope(plan)));
  const k = state.nodes;
  assert.equal(
    out,
    [
      `a ${k.a!.sendPort} ${k.a!.publicKey} ip4 hk`,
      a.links.map((l) => `${l.name},${l.peer},${l.peerPublicKey},${l.linkLocal};`).join(''),
      a.links.map((l) => l.name).join(' '),
      ['a', 'b', 'c'].map((n) => `${n}=${k[n]!.sendPort}/ `).join(''),
      'rait 1400 /run/babeld.ctl 50999',
    ].join('\n'),
  );
  for (const keys of Object.values(k)) assert.ok(!out.includes(keys.privateKey));
});

test('template errors are InputErrors naming the template file', () => {
  assert.throws(
    () => compileTemplate('{% for x in %}', '/my/t.liquid'),
    (e: unknown) => e instanceof InputError && e.message.startsWith('/my/t.liquid'),
  );
  assert.throws(() => compileTemplate('{{ node.name | nosuchfilter }}', '/my/t.liquid'), /undefined filter/);
  const { plan } = setup();
  const t = compileTemplate('{% include "no-such-file-here.liquid" %}', '/my/t.liquid');
  assert.throws(
    () => renderTemplate(t, templateScope(plan.nodes[0]!, sharedScope(plan))),
    (e: unknown) => e instanceof InputError && e.message.startsWith('/my/t.liquid') && /node a/.test(e.message),
  );
});

test("a node's files are rendered when first read; renderFilesOf surfaces its template errors", () => {
  const { inv, state } = setup();
  const failsForB = '{% if node.name == "b" %}{% include "no-such-file-here.liquid" %}{% endif %}interface {{ node.name }}\n';
  assert.throws(() => planMesh(inv, state, { babeld: '{% for x in %}' }), InputError, 'syntax errors stay plan errors');
  const plan = planMesh(inv, state, { babeld: failsForB });
  const [a, b, c] = plan.nodes;
  assert.doesNotThrow(() => renderFilesOf(plan, [a!.node, c!.node]));
  assert.equal(a!.files['babeld.conf'], 'interface a\n');
  assert.throws(
    () => renderFilesOf(plan, [b!.node]),
    (e: unknown) => e instanceof InputError && /node b/.test(e.message),
  );
  assert.throws(() => b!.files, InputError, 'an error is not memoised as a value');
  assert.equal(a!.files, a!.files, 'computed once');
  assert.equal(a!.links, a!.links);
  assert.deepEqual(Object.keys(a!), ['node', 'keys', 'links', 'files'], 'still a plain, enumerable NodePlan');
});

test('babeld disabled: no babeld.conf', () => {
  const inv = inventory(['a: { host: 192.0.2.1 }'], ['babeld: { enabled: false }']);
  const plan = planMesh(inv, ensureKeys(inv, { nodes: {} }).state, {});
  assert.equal(plan.nodes[0]!.files['babeld.conf'], undefined);
});
