/** Node n1 of the lab the agent's facts were recorded on (test/fixtures/agent-facts): its keys, links and plan. */
import { readFileSync } from 'node:fs';
import { parseInventory } from '../../src/inventory/load.js';
import type { MeshSettings } from '../../src/inventory/types.js';
import { planMesh } from '../../src/mesh/plan.js';
import type { NodePlan } from '../../src/mesh/types.js';
import { parseState } from '../../src/state/codec.js';
import { factsDir } from './agent-harness.js';

const stateFile = `${factsDir('.')}/state.toml`;
export const state = parseState(stateFile, readFileSync(stateFile, 'utf8'));
/** n1's interface towards each peer, as the lab named them. */
export const link = JSON.parse(readFileSync(`${factsDir('.')}/links.json`, 'utf8')) as Record<'n2' | 'n3' | 'n4', string>;

/**
 * The plan of n1 in the recorded lab (hosts as `lab up --subnet 10.231.250.0/24` gave them); `mesh`: more
 * mesh settings; `nodes`: a node's own YAML mapping instead of `{ host: … }`.
 */
export function n1Plan(mesh = '', nodes: Partial<Record<'n1' | 'n2' | 'n3' | 'n4', string>> = {}): { plan: NodePlan; mesh: MeshSettings } {
  const lines = ([1, 2, 3, 4] as const).map((i) => `  n${i}: ${nodes[`n${i}`] ?? `{ host: 10.231.250.${i} }`}`).join('\n');
  const inventory = parseInventory('/facts/inventory.yaml', `mesh:\n  babeld: { enabled: false }\n${mesh}nodes:\n${lines}\n`);
  const plan = planMesh(inventory, state, {});
  return { plan: plan.nodes[0]!, mesh: plan.mesh };
}
