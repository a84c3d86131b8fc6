import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REPLY_BYTES, parseReport } from '../../src/agent/validate.js';

const apply = {
  agent: 1,
  mode: 'deploy',
  ok: true,
  wireguard: 'wireguard-go',
  files: [
    { name: 'rait.conf', changed: true },
    { name: 'peers.conf', changed: false },
  ],
  links: {
    added: ['rait50002'],
    updated: [],
    removed: ['rait50009'],
    kept: ['rait50003'],
    failed: [{ name: 'rait50004', error: 'endpoint n4.invalid does not resolve (ip4)' }],
  },
  babeld: 'updated',
  notes: ['raised fs.inotify.max_user_instances from 128 to 160'],
};

const status = {
  agent: 1,
  mode: 'status',
  ok: true,
  wireguard: 'kernel',
  versions: { wg: 'v1.0.20210914', babeld: '1.12.1', kernel: '6.1.0' },
  configHashes: { 'rait.conf': 'ab'.repeat(32) },
  links: [
    {
      name: 'rait50002',
      publicKey: 'k',
      listenPort: 50002,
      endpoint: '10.0.0.2:50001',
      handshakeAge: 12,
      rxBytes: 1,
      txBytes: 2,
      mtu: 1400,
      up: true,
    },
    {
      name: 'rait50003',
      publicKey: 'k',
      listenPort: 50003,
      endpoint: '',
      handshakeAge: null,
      rxBytes: 0,
      txBytes: 0,
      mtu: 1400,
      up: false,
    },
  ],
  linkErrors: { rait50004: 'endpoint n4.invalid does not resolve (ip4)' },
  persistence: { via: 'systemd', enabled: true, lastRun: 1795796280, lastKind: 'heal', healsChanged: 2, lastHealChange: 'rait50002' },
  babel: {
    running: true,
    configHash: 'cd'.repeat(32),
    neighbours: [{ interface: 'rait50002', address: 'fe80::2:1', rxcost: 32, txcost: 33, cost: 33, rtt: 4.5, reach: 'ffff' }],
    routes: 3,
  },
};

const text = (o: unknown) => JSON.stringify(o);

test('a good apply reply parses to the same data', () => {
  assert.deepEqual(parseReport(text(apply), 'deploy'), apply);
  const check = { ...apply, mode: 'check', files: [{ name: 'rait.conf', changed: true, diff: '--- a\n+++ b\n' }] };
  assert.deepEqual(parseReport(text(check), 'check'), check);
});

test('a good status reply parses to the same data', () => {
  assert.deepEqual(parseReport(text(status), 'status'), status);
});

test('ok:false with an error is a valid reply; unknown keys are dropped', () => {
  const failed = { ...apply, ok: false, error: 'missing program wg: install package wireguard-tools (debian)', extra: 'x' };
  const r = parseReport(text(failed), 'deploy');
  assert.equal(r.ok, false);
  assert.equal(r.error, failed.error);
  assert.ok(!('extra' in r));
});

test('empty, garbage, two documents and oversized replies are refused with an excerpt', () => {
  assert.throws(() => parseReport('', 'deploy'), /printed nothing/);
  assert.throws(() => parseReport(' \n', 'status'), /printed nothing/);
  assert.throws(() => parseReport('sh: 1: wg: not found\n', 'deploy'), /not one JSON document: sh: 1: wg: not found/);
  assert.throws(() => parseReport(`${text(apply)}\n${text(apply)}`, 'deploy'), /not one JSON document/);
  assert.throws(() => parseReport('x'.repeat(MAX_REPLY_BYTES + 1), 'deploy'), /larger than 1048576 bytes: x+…$/);
  assert.throws(() => parseReport('[1,2]', 'deploy'), /\(document\): expected an object/);
  assert.throws(
    () => parseReport('"\u0007bell"', 'deploy'),
    (e: Error) => !/\u0007/.test(e.message),
  );
});

const badApply: [string, unknown, RegExp][] = [
  ['agent', 2, /agent: expected protocol version 1, got 2/],
  ['mode', 'status', /mode: expected deploy, got "status"/],
  ['ok', 'yes', /ok: expected true or false/],
  ['wireguard', 'userspace', /wireguard: expected kernel \| wireguard-go/],
  ['files', {}, /files: expected an array/],
  ['files', [{ name: 'rait.conf', changed: 1 }], /files\[0\]\.changed: expected true or false, got 1/],
  ['files', [{ name: 'rait.conf', changed: true, diff: 5 }], /files\[0\]\.diff: expected a string/],
  ['links', { added: [], updated: [], removed: [] }, /links\.kept: expected an array, got nothing/],
  ['links', { added: [7], updated: [], removed: [], kept: [] }, /links\.added\[0\]: expected a string, got 7/],
  ['babeld', null, /babeld: expected started \| updated \| .* \| would-stopped, got null/],
  ['babeld', 'exploded', /babeld: expected started .*, got "exploded"/],
  [
    'files',
    [{ name: '../../etc/passwd', changed: true }],
    /files\[0\]\.name: expected rait\.conf \| rait-ip4\.conf \| rait-ip6\.conf \| peers\.conf \| babeld\.conf/,
  ],
];

for (const [key, value, message] of badApply) {
  test(`apply reply with bad ${key} (${JSON.stringify(value)}) is refused`, () => {
    assert.throws(() => parseReport(text({ ...apply, [key]: value }), 'deploy'), message);
  });
}

test('ok:false without an error is refused', () => {
  assert.throws(() => parseReport(text({ ...apply, ok: false }), 'deploy'), /error: expected a string, got nothing/);
});

const link = status.links[0]!;
const badStatus: [string, unknown, RegExp][] = [
  ['versions', { wg: 'v1', babeld: '1' }, /versions\.kernel: expected a string/],
  ['configHashes', { 'rait.conf': 5 }, /configHashes\.rait\.conf: expected a string/],
  ['links', [{ ...link, listenPort: 70000 }], /links\[0\]\.listenPort: expected an integer 0\.\.65535, got 70000/],
  ['links', [{ ...link, handshakeAge: -1 }], /links\[0\]\.handshakeAge: expected an integer/],
  ['links', [{ ...link, rxBytes: 1.5 }], /links\[0\]\.rxBytes: expected an integer/],
  ['links', [{ ...link, up: 'true' }], /links\[0\]\.up: expected true or false/],
  ['babel', { running: true, configHash: null, neighbours: [], routes: '3' }, /babel\.routes: expected an integer/],
  ['babel', { running: true, configHash: 7, neighbours: [], routes: 3 }, /babel\.configHash: expected a string/],
  ['linkErrors', { rait50002: false }, /linkErrors\.rait50002: expected a string/],
  ['linkErrors', [], /linkErrors: expected an object/],
  ['persistence', { via: 'openrc', enabled: true }, /persistence\.via: expected systemd \| none/],
  [
    'persistence',
    { via: 'none', enabled: false, lastRun: null, lastKind: 'reboot', healsChanged: 0, lastHealChange: '' },
    /persistence\.lastKind: expected boot \| heal \| manual/,
  ],
  [
    'babel',
    { running: true, configHash: null, neighbours: [{ ...status.babel.neighbours[0], rtt: 'fast' }], routes: 0 },
    /babel\.neighbours\[0\]\.rtt: expected a number of milliseconds or null/,
  ],
];

for (const [key, value, message] of badStatus) {
  test(`status reply with bad ${key} is refused: ${message.source.slice(0, 40)}`, () => {
    assert.throws(() => parseReport(text({ ...status, [key]: value }), 'status'), message);
  });
}

test('an apply reply is not a status reply', () => {
  assert.throws(() => parseReport(text(apply), 'status'), /mode: expected status, got "deploy"/);
});
