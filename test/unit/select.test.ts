import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { selectNodes } from '../../src/inventory/select.js';
import { inventory } from '../fixtures/inventories.js';

const inv = inventory([
  'a: { host: a.example, groups: [asia] }',
  'b: { host: b.example, groups: [europe] }',
  'c: { host: c.example, groups: [asia, edge] }',
]);
const names = (limit?: string): string[] => selectNodes(inv, limit).map((n) => n.name);

test('no limit selects every node', () => assert.deepEqual(names(), ['a', 'b', 'c']));
test('node and group names combine, in inventory order', () => {
  assert.deepEqual(names('b'), ['b']);
  assert.deepEqual(names('asia'), ['a', 'c']);
  assert.deepEqual(names('edge, b'), ['b', 'c']);
});
test('an unknown name is an InputError on --limit with a hint', () => {
  assert.throws(
    () => names('asai'),
    (e: unknown) => e instanceof InputError && e.where.field === '--limit' && /did you mean "asia"/.test(e.message),
  );
  assert.throws(() => names(','), InputError);
});
