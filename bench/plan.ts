// Benchmark: plan a synthetic 1,000-node mesh in memory (links + peers.conf + rait.conf), then the same
// with every node's babeld.conf rendered. Prints timings and peak RSS; asserts nothing.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseInventory, DEFAULT_BABELD_TEMPLATE } from '../src/inventory/load.js';
import type { Inventory } from '../src/inventory/types.js';
import { planMesh } from '../src/mesh/plan.js';
import { ensureKeys } from '../src/state/allocate.js';

const NODES = Number(process.env.NODES ?? 1000);

function syntheticInventory(babeld: boolean): Inventory {
  const lines = [
    'mesh:',
    '  send_port_range: [40000, 49999]',
    `  babeld: { enabled: ${babeld} }`,
    'nodes:',
  ];
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

const bare = syntheticInventory(false);
const [{ state }, keygenMs] = time(() => ensureKeys(bare, { nodes: {} }));
// Only the link count is kept: the bare plan must not inflate the peak of the full one below.
const [links, planMs] = time(() => planMesh(bare, state, {}).nodes.reduce((n, p) => n + p.links.length, 0));
const template = readFileSync(DEFAULT_BABELD_TEMPLATE, 'utf8');
const withBabeld = syntheticInventory(true);
const [, renderMs] = time(() => planMesh(withBabeld, state, { babeld: template }));

const ms = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`nodes ${NODES}, links ${links}`);
console.log(`keygen (keys + SendPorts)                 ${ms(keygenMs)}`);
console.log(`plan: links, rait.conf, peers.conf        ${ms(planMs)}`);
console.log(`plan + render babeld.conf for every node  ${ms(renderMs)}`);
console.log(`peak RSS                                  ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
