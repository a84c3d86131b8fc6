// keygen's work, loaded only when keygen runs (see keygen.ts).
import { formatTable } from '../output/table.js';
import { prepareFleet } from '../state/fleet.js';
import { sendPortOf } from '../state/send-ports.js';

export interface KeygenFlags {
  rotate?: string[];
  prune?: boolean;
  rotateSigningKey?: boolean;
}

export async function runKeygen(inventoryArg: string | undefined, flags: KeygenFlags): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  // keygen lists every public key, so it checks every pair (a pair it has just made or rotated included).
  const opts = { rotate: flags.rotate, prune: flags.prune, rotateSigningKey: flags.rotateSigningKey };
  const { inventory, state } = await prepareFleet(inventoryArg, log, opts, (fleet) => {
    fleet.checkKeyPairs(Object.keys(fleet.state.nodes));
    return fleet;
  });
  const rows = inventory.nodes.map((n) => {
    const keys = state.nodes[n.name]!;
    // A dual-stack node has a SendPort per transport.
    const ports =
      n.transports.length > 1 ? n.transports.map((t) => `${t.family} ${sendPortOf(keys, t.family)}`).join(', ') : String(keys.sendPort);
    return [n.name, keys.publicKey, ports];
  });
  process.stdout.write(`${formatTable(['node', 'public key', 'SendPort'], rows)}\n`);
  const signing = state.signing;
  if (signing) {
    process.stdout.write(`\nregistry signing key  ${signing.current.publicKey}\n`);
    if (signing.next) process.stdout.write(`next signing key      ${signing.next.publicKey}\n`);
  }
}
