// Nodes behind NAT on a real lab (issue 12): n3 and n4 each sit behind a masquerading router of their
// own (SSH forwarded, no inbound UDP), so no peer can reach them first. The mesh still routes every
// loopback to every other, NAT to NAT through babel, and status is healthy. Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labExec, type Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import { runCli, waitFor, waitForHealthy } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';

describe('a 5-node lab with two nodes behind NAT', () => {
  const suite = labSuite('nat', 5, { nat: ['n3', 'n4'] });
  const { inventory } = suite;
  let lab: Lab;
  const ifname = (peer: string): string => `rait${readState(suite.statePath).nodes[peer]!.sendPort}`;
  const wg = async (node: string, ...args: string[]): Promise<string> => {
    const r = await labExec(lab, node, ['wg', 'show', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    lab = suite.lab;
    const r = await runCli(['deploy', inventory]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('every loopback reaches every other, NAT to NAT through babel', async () => {
    const failing = async (): Promise<string[]> => {
      const bad: string[] = [];
      for (const a of lab.nodes) {
        for (const b of lab.nodes) {
          if (a === b) continue;
          const ping = await labExec(lab, a.name, ['ping', '-c', '1', '-W', '1', b.loopback4.split('/')[0]!]);
          if (ping.code !== 0) bad.push(`${a.name}->${b.name}`);
        }
      }
      return bad;
    };
    let last: string[] = [];
    await waitFor(async () => (last = await failing()).length === 0, 90_000, 2000);
    assert.deepEqual(last, []);
    const route = await labExec(lab, 'n3', ['ip', 'route', 'get', lab.nodes[3]!.loopback4.split('/')[0]!]);
    assert.doesNotMatch(route.stdout, new RegExp(`dev ${ifname('n4')}\\b`), 'n3 has no link to n4');
  });

  it('status is healthy; the NAT pair is not expected, and says why', async () => {
    const doc = await waitForHealthy(inventory);
    for (const [from, to] of [
      ['n3', 'n4'],
      ['n4', 'n3'],
    ]) {
      const cell = doc.links.find((l) => l.from === from && l.to === to)!;
      assert.deepEqual([cell.status, cell.reason], ['not-expected', 'both behind NAT']);
    }
    assert.equal(doc.links.filter((l) => l.status === 'up').length, 18);
  });

  it('the public ends learnt where the NAT nodes are; the NAT nodes keep their mappings open', async () => {
    // n1 was given no endpoint for n3: the one it has came from n3's handshakes, through n3's router.
    const endpoint = (await wg('n1', ifname('n3'), 'endpoints')).split('\t')[1];
    assert.match(endpoint!, new RegExp(`^${lab.nodes[2]!.address.replaceAll('.', '\\.')}:\\d+$`));
    assert.equal((await wg('n3', ifname('n1'), 'persistent-keepalive')).split('\t')[1], '25');
    assert.equal((await wg('n1', ifname('n3'), 'persistent-keepalive')).split('\t')[1], 'off');
  });
});
