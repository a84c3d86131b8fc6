import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { changed, ensureKeys } from '../../src/state/allocate.js';
import { publicKeyOf } from '../../src/state/keys.js';
import { generateSigningKey, nextPublication, signingPublicKeyOf } from '../../src/state/signing.js';
import type { FleetState } from '../../src/state/types.js';
import { inventory, nodeLines } from '../fixtures/inventories.js';

const ports = (s: FleetState): Record<string, number> => Object.fromEntries(Object.entries(s.nodes).map(([n, k]) => [n, k.sendPort]));

test('first run: keys for everyone, pins first, then the lowest free ports', () => {
  const inv = inventory(['a: { host: a.example }', 'b: { host: b.example, send_port: 50000 }', 'c: { host: c.example }']);
  const r = ensureKeys(inv, { nodes: {} });
  assert.deepEqual(r.generated, ['a', 'b', 'c']);
  assert.deepEqual(ports(r.state), { a: 50001, b: 50000, c: 50002 });
  for (const k of Object.values(r.state.nodes)) assert.equal(publicKeyOf(k.privateKey), k.publicKey);
  assert.ok(changed(r));
});

test('second run changes nothing and returns the same keys', () => {
  const inv = inventory(nodeLines(3));
  const first = ensureKeys(inv, { nodes: {} });
  const second = ensureKeys(inv, first.state);
  assert.deepEqual(second.state, first.state);
  assert.equal(changed(second), false);
});

test('a new node never takes an existing port, even a lower freed one of a kept entry', () => {
  const first = ensureKeys(inventory(nodeLines(3)), { nodes: {} });
  // n2 leaves the inventory (kept in state without --prune); n4 arrives.
  const inv = inventory(['n1: { host: 192.0.2.1 }', 'n3: { host: 192.0.2.3 }', 'n4: { host: 192.0.2.4 }']);
  const r = ensureKeys(inv, first.state);
  assert.deepEqual(ports(r.state), { n1: 50000, n3: 50002, n4: 50003, n2: 50001 });
  assert.deepEqual(r.generated, ['n4']);
  assert.deepEqual(r.state.nodes.n1, first.state.nodes.n1);
});

test('--prune drops removed nodes and frees their ports', () => {
  const first = ensureKeys(inventory(nodeLines(3)), { nodes: {} });
  const inv = inventory(['n1: { host: 192.0.2.1 }', 'n3: { host: 192.0.2.3 }', 'n4: { host: 192.0.2.4 }']);
  const r = ensureKeys(inv, first.state, { prune: true });
  assert.deepEqual(r.pruned, ['n2']);
  assert.deepEqual(ports(r.state), { n1: 50000, n3: 50002, n4: 50001 });
});

test('--rotate makes a new key, keeps the port; unknown node is an error', () => {
  const inv = inventory(nodeLines(2));
  const first = ensureKeys(inv, { nodes: {} });
  const r = ensureKeys(inv, first.state, { rotate: ['n2'] });
  assert.deepEqual(r.rotated, ['n2']);
  assert.notEqual(r.state.nodes.n2!.privateKey, first.state.nodes.n2!.privateKey);
  assert.equal(r.state.nodes.n2!.sendPort, first.state.nodes.n2!.sendPort);
  assert.deepEqual(r.state.nodes.n1, first.state.nodes.n1);
  assert.throws(
    () => ensureKeys(inv, first.state, { rotate: ['n9'] }),
    (e: unknown) => e instanceof InputError && e.where.field === '--rotate',
  );
});

test('a new pin moves the node, and the node that held that port moves to a free one', () => {
  const first = ensureKeys(inventory(nodeLines(3)), { nodes: {} });
  const inv = inventory(['n1: { host: 192.0.2.1 }', 'n2: { host: 192.0.2.2 }', 'n3: { host: 192.0.2.3, send_port: 50000 }']);
  const r = ensureKeys(inv, first.state);
  // n3's old port is free again, so it is the lowest free one.
  assert.deepEqual(ports(r.state), { n1: 50002, n2: 50001, n3: 50000 });
  assert.deepEqual(r.moved, ['n1', 'n3']);
  assert.equal(r.state.nodes.n1!.privateKey, first.state.nodes.n1!.privateKey);
});

test('a port outside a changed range is reallocated', () => {
  const first = ensureKeys(inventory(nodeLines(2)), { nodes: {} });
  const r = ensureKeys(inventory(nodeLines(2), ['send_port_range: [50001, 50010]']), first.state);
  assert.deepEqual(ports(r.state), { n1: 50002, n2: 50001 });
  assert.deepEqual(r.moved, ['n1']);
});

test('a pin on a port held by a removed node asks for --prune', () => {
  const first = ensureKeys(inventory(nodeLines(2)), { nodes: {} });
  const inv = inventory(['n1: { host: 192.0.2.1, send_port: 50001 }']);
  assert.throws(
    () => ensureKeys(inv, first.state),
    (e: unknown) => e instanceof InputError && e.where.field === 'nodes.n1.send_port' && /--prune/.test(e.message),
  );
});

test('exhaustion: kept entries of removed nodes can use up the range', () => {
  const first = ensureKeys(inventory(nodeLines(2), ['send_port_range: [50000, 50001]']), { nodes: {} });
  const inv = inventory(['n3: { host: 192.0.2.3 }'], ['send_port_range: [50000, 50001]']);
  assert.throws(
    () => ensureKeys(inv, first.state),
    (e: unknown) => e instanceof InputError && e.where.field === 'mesh.send_port_range' && /no free SendPort/.test(e.message),
  );
  assert.deepEqual(ports(ensureKeys(inv, first.state, { prune: true }).state), { n3: 50000 });
});

test('the input state is not modified', () => {
  const inv = inventory(nodeLines(2));
  const first = ensureKeys(inv, { nodes: {} });
  const snapshot = structuredClone(first.state);
  ensureKeys(inventory(['n1: { host: 192.0.2.1, send_port: 50005 }']), first.state, { rotate: ['n1'], prune: true });
  assert.deepEqual(first.state, snapshot);
});

test('pull mode: the signing key is made once, --rotate-signing-key makes the next one; no pull, no key', () => {
  const pull = ['pull: { url: "https://r.example/rait" }'];
  assert.equal(ensureKeys(inventory(nodeLines(2)), { nodes: {} }).state.signing, undefined);
  const first = ensureKeys(inventory(nodeLines(2), pull), { nodes: {} });
  assert.equal(first.signing, 'generated');
  assert.equal(signingPublicKeyOf(first.state.signing!.current.privateKey), first.state.signing!.current.publicKey);
  assert.deepEqual([first.state.signing!.serial, first.state.signing!.next], [0, undefined]);
  const again = ensureKeys(inventory(nodeLines(2), pull), first.state);
  assert.equal(changed(again), false);
  assert.deepEqual(again.state.signing, first.state.signing);
  const rotated = ensureKeys(inventory(nodeLines(2), pull), first.state, { rotateSigningKey: true });
  assert.equal(rotated.signing, 'next');
  assert.equal(rotated.state.signing!.current, first.state.signing!.current);
  assert.notEqual(rotated.state.signing!.next!.publicKey, first.state.signing!.current.publicKey);
  // Kept when pull mode is turned off: turning it on again must not change the key nodes trust.
  assert.deepEqual(ensureKeys(inventory(nodeLines(2)), rotated.state).state.signing, rotated.state.signing);
  assert.throws(
    () => ensureKeys(inventory(nodeLines(2)), { nodes: {} }, { rotateSigningKey: true }),
    (e: unknown) => e instanceof InputError && e.where.field === '--rotate-signing-key',
  );
});

test('publication: the serial grows; a next key is named, then switched to only once named', () => {
  const current = generateSigningKey();
  const next = generateSigningKey();
  const plain = nextPublication({ current, serial: 4, nextNamed: 0 }, false);
  assert.deepEqual(plain, { current, serial: 5, nextNamed: 0 });
  assert.match(String(nextPublication({ current, serial: 4, nextNamed: 0 }, true)), /no next signing key/);
  assert.match(String(nextPublication({ current, next, serial: 4, nextNamed: 0 }, true)), /no registry named the next signing key/);
  const naming = nextPublication({ current, next, serial: 4, nextNamed: 0 }, false);
  assert.deepEqual(naming, { current, next, serial: 5, nextNamed: 5 });
  assert.deepEqual(nextPublication({ current, next, serial: 5, nextNamed: 5 }, false), { current, next, serial: 6, nextNamed: 5 });
  assert.deepEqual(nextPublication({ current, next, serial: 6, nextNamed: 5 }, true), { current: next, serial: 7, nextNamed: 0 });
});
