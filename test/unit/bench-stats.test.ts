import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRatio, formatSample, markdownTable, summarize } from '../../bench/stats.js';

test('summarize: median of odd and even counts, min and max, order does not matter', () => {
  assert.deepEqual(summarize([5, 1, 3]), { median: 3, min: 1, max: 5, n: 3 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.throws(() => summarize([]), /no measurements/);
});

test('formatSample: milliseconds below a second, seconds above', () => {
  assert.equal(formatSample(summarize([420, 512.4, 1500])), '512 ms (420 ms–1.50 s)');
});

test('formatRatio: says whether the target is met', () => {
  assert.equal(formatRatio({ name: 'x', value: 1.234, target: 1.5 }), '1.23 (target ≤ 1.5: met)');
  assert.equal(formatRatio({ name: 'x', value: 0.0612, target: 0.05 }), '0.061 (target ≤ 0.05: missed)');
  assert.equal(formatRatio({ name: 'x', value: 2 }), '2.00');
});

test('markdownTable: header, rule and rows', () => {
  assert.equal(markdownTable(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | --- |\n| 1 | 2 |');
});
