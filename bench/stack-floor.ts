// The floor of our own stack: one Node process, our ssh2 transport to every node of an inventory at
// once (or only the nodes named after it), `true` on each. What deploy and status cost beyond this is
// planning, the agent and the CLI.
import { loadInventory, resolveInventoryPath } from '../src/inventory/load.js';
import { closeAll, connect } from '../src/ssh/index.js';

const [inventoryArg, ...only] = process.argv.slice(2);
const inventory = loadInventory(resolveInventoryPath(inventoryArg));
const nodes = only.length ? inventory.nodes.filter((n) => only.includes(n.name)) : inventory.nodes;
const results = await Promise.allSettled(
  nodes.map(async (node) => {
    const conn = await connect(node);
    try {
      const res = await conn.exec('true', '');
      if (res.code !== 0) throw new Error(`${node.name}: true exited with ${res.code}`);
    } finally {
      conn.close();
    }
  }),
);
closeAll();
const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
for (const f of failed) process.stderr.write(`stack-floor: ${f.reason instanceof Error ? f.reason.message : String(f.reason)}\n`);
process.exitCode = failed.length || nodes.length === 0 ? 1 : 0;
