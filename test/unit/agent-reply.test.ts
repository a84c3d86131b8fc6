// A node's reply is untrusted: whatever it prints, the control side gets a clean report or a short,
// printable error. (Field-by-field type checks live in agent-validate.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReport, printable } from '../../src/agent/validate.js';

const apply = {
  agent: 1,
  mode: 'deploy',
  ok: true,
  files: [{ name: 'rait.conf', changed: false }],
  links: { added: [], updated: [], removed: [], kept: ['rait50001'], failed: [] },
  babeld: 'unchanged',
  notes: [],
};
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test('printable replaces terminal control characters, keeps tabs, newlines and other text', () => {
  assert.equal(printable('a\u001b[2Jb\u009b31mc\u0007\u0000d\te\nf ü'), 'a?[2Jb?31mc??d\te\nf ü');
});

test('strings in a valid reply cannot carry terminal escapes', () => {
  const r = parseReport(
    JSON.stringify({ ...apply, mode: 'check', files: [{ name: 'rait.conf', changed: true, diff: '+a\n-b\u001b[1m\n' }] }),
    'check',
  );
  assert.ok(r.mode === 'check');
  assert.equal(r.files[0]!.diff, '+a\n-b?[1m\n');
});

test('names and actions are one of the known values: anything else, escapes too, is refused in printable words', () => {
  for (const [key, value] of [
    ['babeld', '\u001b]0;owned\u0007'],
    ['files', [{ name: 'x\u009b2J', changed: true }]],
  ] as const) {
    assert.throws(
      () => parseReport(JSON.stringify({ ...apply, [key]: value }), 'deploy'),
      (err: Error) => !CONTROL.test(err.message) && /expected .*(started|rait\.conf)/.test(err.message),
    );
  }
});

test('a failure reason is clipped and printable', () => {
  const r = parseReport(JSON.stringify({ ...apply, ok: false, error: `\u001b[31m${'x'.repeat(100_000)}` }), 'deploy');
  assert.ok(r.error!.length <= 501, String(r.error!.length));
  assert.doesNotMatch(r.error!, CONTROL);
  assert.ok(r.error!.startsWith('?[31mxxx') && r.error!.endsWith('…'));
});

const hostile: [string, string][] = [
  ['terminal escapes', '\u001b[2J\u001b]0;title\u0007 not json'],
  ['binary', Buffer.from([0, 1, 2, 0xff, 0xfe, 0x9b]).toString('latin1')],
  ['deep nesting', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
  ['a huge number', `{"agent":1e999,"mode":"deploy"}`],
  ['__proto__', `{"__proto__":{"polluted":true},"agent":1,"mode":"deploy","ok":true}`],
  ['many lines', 'line\n'.repeat(50_000)],
];

for (const [name, text] of hostile) {
  test(`a reply of ${name} is refused with a short printable excerpt`, () => {
    assert.throws(
      () => parseReport(text, 'deploy'),
      (e: unknown) => {
        assert.ok(e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError), String(e));
        assert.match(e.message, /^agent reply: /);
        assert.ok(e.message.length < 300, e.message);
        assert.doesNotMatch(e.message, CONTROL);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
}

test('configHashes named __proto__ stay plain data', () => {
  const status = {
    agent: 1,
    mode: 'status',
    ok: true,
    versions: { wg: 'v1', babeld: '1.12', kernel: '6.1' },
    configHashes: JSON.parse('{"__proto__": "ab", "rait.conf": "cd"}') as Record<string, string>,
    links: [],
    linkErrors: {},
    babel: { running: false, configHash: null, neighbours: [], routes: 0 },
    persistence: { via: 'none', enabled: false, lastRun: null, lastKind: null, healsChanged: 0, lastHealChange: '' },
  };
  const r = parseReport(JSON.stringify(status), 'status');
  assert.ok(r.mode === 'status');
  assert.equal(Object.getPrototypeOf(r.configHashes), Object.prototype);
  assert.deepEqual(Object.keys(r.configHashes).sort(), ['__proto__', 'rait.conf']);
});
