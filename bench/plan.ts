// Benchmark: a synthetic 1,000-node mesh in memory. Planning = planMesh (peers.conf, template compiled) plus
// every node's links; rendering = every node's files (rait.conf, babeld.conf through liquidjs), and checking
// every node's key pair, which a deploy of the whole fleet needs and a deploy --limit needs only for its
// nodes; then status's own work once every node has answered: analysing the replies of a healthy mesh
// (the status tests' canned replies: every link up) and printing the result as on a terminal. Prints
// timings and peak RSS after each phase; asserts nothing.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseInventory } from '../src/inventory/load.js';
import { DEFAULT_BABELD_TEMPLATE } from '../src/paths.js';
import type { Inventory } from '../src/inventory/types.js';
import { planMesh } from '../src/mesh/plan.js';
import { ensureKeys } from '../src/state/allocate.js';
import { checkKeyPairs } from '../src/state/codec.js';
import { analyzeMesh } from '../src/status/analyze.js';
import { formatStatus } from '../src/status/format.js';
import { names, probesFor } from '../test/unit/status-fixtures.js';

const NODES = Number(process.env.NODES ?? 1000);

function syntheticInventory(): Inventory {
  const lines = ['mesh:', '  send_port_range: [40000, 49999]', '  babeld: { enabled: true }', 'nodes:'];
  for (let i = 1; i <= NODES; i++) {
    lines.push(`  n${i}: { host: 10.${i >> 8}.${i & 255}.1, vars: { loopback: "fd00::${i.toString(16)}/128" } }`);
  }
  return parseInventory('/bench/inventory.yaml', lines.join('\n'));
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const value = fn();
  return [value, performance.now() - t0];
}

/** Peak resident set of this process so far (it only grows). */
const peakMiB = (): string => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;
const ms = (x: number): string => `${x.toFixed(0)} ms`;

const inventory = syntheticInventory();
const template = readFileSync(DEFAULT_BABELD_TEMPLATE, 'utf8');
const [{ state }, keygenMs] = time(() => ensureKeys(inventory, { nodes: {} }));
console.log(`nodes ${NODES}`);
console.log(`keygen (keys + SendPorts)                  ${ms(keygenMs)}`);

const [[plan, links], planMs] = time(() => {
  const p = planMesh(inventory, state, { babeld: template });
  return [p, p.nodes.reduce((n, np) => n + np.links.length, 0)] as const;
});
console.log(`links ${links}`);
console.log(`planning (plan, peers.conf, every link)    ${ms(planMs)}`);
console.log(`peak RSS after planning                    ${peakMiB()}`);

const [, renderMs] = time(() => plan.nodes.forEach((np) => void np.files));
console.log(`rendering every node's files               ${ms(renderMs)}`);
console.log(`peak RSS after rendering (whole process)   ${peakMiB()}`);

const [, checkMs] = time(() => checkKeyPairs('/bench/state.toml', undefined, state, Object.keys(state.nodes)));
console.log(`checking every node's key pair             ${ms(checkMs)}`);

const probes = probesFor(plan);
const [health, analyseMs] = time(() => analyzeMesh(plan, names(plan), probes));
if (!health.healthy) throw new Error('bench: the canned healthy mesh is not healthy');
console.log(`status: analysing every node's reply       ${ms(analyseMs)}`);
const [, printMs] = time(() => formatStatus(health, { width: 200 }));
console.log(`status: printing it (200 columns)          ${ms(printMs)}`);
