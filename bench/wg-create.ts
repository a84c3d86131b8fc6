// How long WireGuard creation alone takes in a cold deploy: on every node at once, start one
// wireguard-go link per peer the way the agent does (start it, wait for its control socket), then
// delete them; each node times its own creation. The links use a prefix and group no mesh uses,
// so nothing managed is touched.
import { loadInventory, resolveInventoryPath } from '../src/inventory/load.js';
import { closeAll, connect } from '../src/ssh/index.js';

const inventory = loadInventory(resolveInventoryPath(process.argv[2]));
const count = inventory.nodes.length - 1;
const script = `
set -e
t0=$(date +%s%N)
i=0
while [ $i -lt ${count} ]; do
  wireguard-go rfbwg$i </dev/null >/dev/null 2>&1
  wg show rfbwg$i listen-port >/dev/null
  i=$((i + 1))
done
t1=$(date +%s%N)
i=0
while [ $i -lt ${count} ]; do ip link del rfbwg$i; i=$((i + 1)); done
echo $(((t1 - t0) / 1000000))
`;
const perNode = await Promise.all(
  inventory.nodes.map(async (node) => {
    const conn = await connect(node);
    try {
      const res = await conn.exec('sh -s', script);
      if (res.code !== 0) throw new Error(`${node.name}: ${res.stderr.trim()}`);
      return Number(res.stdout.trim());
    } finally {
      conn.close();
    }
  }),
);
closeAll();
// The nodes create their links at the same time, so the slowest node's time is what a deploy waits.
process.stdout.write(`${Math.max(...perNode)}\n`);
