import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { ipVersion } from '../../src/ip-version.js';

// ipVersion replaces node:net's isIP for speed only: it must answer as isIP does, for every string.
const agree = (s: string): void => assert.equal(ipVersion(s), isIP(s), `ipVersion(${JSON.stringify(s)})`);

test('ipVersion answers as isIP on addresses, names and near misses', () => {
  const samples = [
    ...['::', '::1', 'fd00::1', 'FD00::A', '2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '0:0:0:0:0:0:0:0'],
    ...['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::2:3:4:5:6:7', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    ...['::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5::1.2.3.4', '0::1.2.3.4'],
    // Zones: isIPv6's own answer, with or without an interface of that name here.
    ...['fe80::1%eth0', 'fe80::1%lo', 'fe80::1%no-such-link', 'fe80::1%', 'fe80::1%a b', '1.2.3.4%eth0'],
    ...['1.2.3.4', '0.0.0.0', '255.255.255.255', '192.0.2.1', '10.127.0.1'],
    // Not addresses.
    ...[':::', '1::2::3', '12345::', 'fffff::', 'g::1', ' ::1', '::1 ', '::1\n', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9'],
    ...['1:2:3:4:5:6:7:1.2.3.4', '::1.02.3.4', '::1.2.3.256', '::ffff:1.2.3', '1:', ':1', ':', '[::1]', '::1/128', '1:::2'],
    ...['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.4 ', 'hk1', 'hk1.example.net', 'n1.lab.', 'localhost'],
  ];
  for (const s of samples) agree(s);
});

test('ipVersion answers as isIP on 100,000 generated strings of groups, colons and dots', () => {
  // A fixed sequence (a linear congruential generator), so that a failure can be run again.
  let seed = 2026;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const group = (): string => {
    const r = next(20);
    if (r < 3) return '';
    if (r < 5) return `${next(300)}.${next(300)}.${next(300)}.${next(300)}`;
    if (r < 6) return 'g';
    return next(0x12000).toString(16); // a few above ffff
  };
  let addresses = 0;
  for (let i = 0; i < 100_000; i++) {
    const s = Array.from({ length: 1 + next(9) }, group).join(next(8) === 0 ? '.' : ':');
    agree(s);
    if (isIP(s) === 6) addresses++;
  }
  // The generator must reach valid addresses, not only malformed strings.
  assert.ok(addresses > 1000, `only ${addresses} of the strings were IPv6 addresses`);
});
