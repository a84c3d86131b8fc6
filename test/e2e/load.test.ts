// Issue 6, load: a 16-node lab (240 tunnels). deploy and status succeed with the default --forks, and
// one node at a time (--forks 1) builds exactly the same mesh. Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import type { FleetState } from '../../src/state/types.js';
import type { NodeOutcome } from '../../src/run/outcome.js';
import { runCli, waitFor } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { expectedLinkFacts, linkFacts } from './mesh-facts.js';

const NODES = 16;

interface StatusDoc {
  healthy: boolean;
  links: { from: string; to: string; status: string }[];
}

describe(`deploy and status on a ${NODES}-node lab`, () => {
  const suite = labSuite('load', NODES);
  const { inventory } = suite;
  let lab: Lab;
  let state: FleetState;

  const meshOnNodes = async (): Promise<Map<string, string[]>> =>
    new Map(await Promise.all(lab.nodes.map(async (n) => [n.name, await linkFacts(lab, n.name)] as const)));

  /** Runs status until it is healthy (babeld needs a few hellos after links appear); returns its document. */
  const healthyStatus = async (forks: string[]): Promise<StatusDoc> => {
    let doc: StatusDoc | undefined;
    let stderr = '';
    const ok = await waitFor(
      async () => {
        const r = await runCli(['status', inventory, '--json', ...forks]);
        stderr = r.stderr;
        doc = JSON.parse(r.stdout) as StatusDoc;
        return r.code === 0;
      },
      60_000,
      2000,
    );
    assert.ok(ok, `status stayed unhealthy: ${stderr} ${JSON.stringify(doc?.links.filter((l) => l.status !== 'up').slice(0, 5))}`);
    return doc!;
  };

  before(async () => {
    lab = suite.lab;
    const keygen = await runCli(['keygen', inventory]);
    assert.equal(keygen.code, 0, keygen.stderr);
    state = readState(suite.statePath);
  });

  let first: Map<string, string[]>;
  let firstStatus: StatusDoc;

  it('deploys 240 tunnels with the default --forks, and status is healthy with every link up', async () => {
    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const doc = JSON.parse(r.stdout) as { nodes: NodeOutcome[] };
    assert.equal(doc.nodes.length, NODES);
    for (const o of doc.nodes) assert.equal(o.links!.added.length, NODES - 1, o.node);
    first = await meshOnNodes();
    for (const n of lab.nodes) assert.deepEqual(first.get(n.name), expectedLinkFacts(lab, state, n.name, 1400), n.name);
    assert.equal([...first.values()].flat().length, NODES * (NODES - 1));
    firstStatus = await healthyStatus([]);
    assert.equal(firstStatus.links.filter((l) => l.status === 'up').length, NODES * (NODES - 1));
  });

  it('down, then deploy and status with --forks 1 give the same mesh', async () => {
    const down = await runCli(['down', inventory]);
    assert.equal(down.code, 0, down.stderr + down.stdout);
    for (const links of (await meshOnNodes()).values()) assert.deepEqual(links, []);
    const r = await runCli(['deploy', inventory, '--json', '--forks', '1']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(await meshOnNodes(), first);
    const status = await healthyStatus(['--forks', '1']);
    const pairs = (doc: StatusDoc) => doc.links.map((l) => `${l.from}->${l.to} ${l.status}`).sort();
    assert.deepEqual(pairs(status), pairs(firstStatus));
  });
});
