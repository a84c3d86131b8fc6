// keygen's work, loaded only when keygen runs (see keygen.ts).
import { formatTable } from '../output/table.js';
import { openFleet } from '../state/fleet.js';

export interface KeygenFlags {
  rotate?: string[];
  prune?: boolean;
}

export async function runKeygen(inventoryArg: string | undefined, flags: KeygenFlags): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  const { inventory, state } = await openFleet(inventoryArg, log, { rotate: flags.rotate, prune: flags.prune });
  const rows = inventory.nodes.map((n) => {
    const keys = state.nodes[n.name]!;
    return [n.name, keys.publicKey, String(keys.sendPort)];
  });
  process.stdout.write(`${formatTable(['node', 'public key', 'SendPort'], rows)}\n`);
}
