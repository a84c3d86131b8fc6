// Writes, per node, the very files deploy sends (plan, rait.conf, peers.conf, babeld.conf,
// private.key) and the agent, so Ansible and Fabric can copy them and run the same agent.
// The directory is private (0700) and every file 0600: it holds private keys.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAgentScript, planFile } from '../src/agent/payload.js';
import { planMesh } from '../src/mesh/plan.js';
import { loadTemplates } from '../src/mesh/templates.js';
import { openFleet } from '../src/state/fleet.js';

/** Where the copies live on a node. */
export const REMOTE_DIR = '/root/rfbench';
export const STAGED_FILES = ['plan', 'rait.conf', 'peers.conf', 'babeld.conf', 'private.key', 'agent.sh'] as const;

/** The agent run on the node, as deploy runs it but reading its payload from REMOTE_DIR. */
function agentFromCopies(agentScript: string): string {
  const copies = STAGED_FILES.filter((f) => f !== 'agent.sh').map((f) => `"${REMOTE_DIR}/${f}"`);
  return `rf_payload() { cp ${copies.join(' ')} "$1/"; }\n${agentScript}`;
}

/** Stages every node's files under `dir/<node>/`; returns the node names. */
export async function stageFiles(inventoryPath: string, dir: string): Promise<string[]> {
  const { inventory, state } = await openFleet(inventoryPath, () => {});
  if (!inventory.mesh.babeld.enabled) throw new Error('the benchmark expects babeld enabled (as in lab inventories)');
  const plan = planMesh(inventory, state, loadTemplates(inventory));
  const agent = agentFromCopies(loadAgentScript());
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const np of plan.nodes) {
    const nodeDir = join(dir, np.node.name);
    mkdirSync(nodeDir, { mode: 0o700 });
    const files: Record<(typeof STAGED_FILES)[number], string> = {
      plan: planFile(np, plan.mesh, 'deploy'),
      'rait.conf': np.files['rait.conf'],
      'peers.conf': np.files['peers.conf'],
      'babeld.conf': np.files['babeld.conf'] ?? '',
      'private.key': `${np.keys.privateKey}\n`,
      'agent.sh': agent,
    };
    for (const name of STAGED_FILES) writeFileSync(join(nodeDir, name), files[name], { mode: 0o600 });
  }
  return plan.nodes.map((np) => np.node.name);
}
