import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from '../../src/output/table.js';

test('columns are aligned to the widest cell, two spaces apart, without trailing spaces', () => {
  const text = formatTable(
    ['node', 'result', 'time'],
    [
      ['n1', 'changed', '0.4 s'],
      ['node-long', '✓', ''],
    ],
  );
  assert.equal(text, ['node       result   time', 'n1         changed  0.4 s', 'node-long  ✓'].join('\n'));
});

test('a header alone is one line', () => {
  assert.equal(formatTable(['a', 'bb'], []), 'a  bb');
});
