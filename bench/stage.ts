// Writes, per node, the very files deploy sends (the plan, rait.conf, peers.conf, babeld.conf, the
// units, private.key) and the agent, so Ansible and Fabric can copy them and run the same agent the
// way deploy's payload does: from a fresh private stage holding copies of them (RUN_COMMAND).
// The directory is private (0700) and every file 0600: it holds private keys.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_FILE, loadAgentScript, planFile } from '../src/agent/payload.js';
import { planMesh } from '../src/mesh/plan.js';
import { loadTemplates } from '../src/mesh/templates.js';
import { NODE_FILES } from '../src/mesh/types.js';
import { openFleet } from '../src/state/fleet.js';

/** Where the copies live on a node. */
export const REMOTE_DIR = '/root/rfbench';

/** The node's side: stage copies of the files privately and run the agent on them, as deploy's payload does. */
export const RUN_COMMAND =
  `umask 077 && d=$(mktemp -d) && cp ${REMOTE_DIR}/files/* "$d/" && ` + `exec sh "$d/${AGENT_FILE}" deploy --stage "$d"`;

/** Stages every node's files under `dir/<node>/files/`; returns the node names. */
export async function stageFiles(inventoryPath: string, dir: string): Promise<string[]> {
  const { inventory, state } = await openFleet(inventoryPath, () => {});
  if (!inventory.mesh.babeld.enabled) throw new Error('the benchmark expects babeld enabled (as in lab inventories)');
  const plan = planMesh(inventory, state, loadTemplates(inventory));
  const agent = loadAgentScript();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const np of plan.nodes) {
    const filesDir = join(dir, np.node.name, 'files');
    mkdirSync(filesDir, { recursive: true, mode: 0o700 });
    const files: [string, string][] = [['plan', planFile(np, plan.mesh, 'deploy')]];
    for (const name of NODE_FILES) {
      const text = np.files[name];
      if (text !== undefined) files.push([name, text]);
    }
    files.push(['private.key', `${np.keys.privateKey}\n`], [AGENT_FILE, agent]);
    for (const [name, text] of files) writeFileSync(join(filesDir, name), text, { mode: 0o600 });
  }
  return plan.nodes.map((np) => np.node.name);
}
