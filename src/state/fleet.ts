// The shell around the pure core: load the inventory and bring the state up to date under the lock.
import { loadInventory, resolveInventoryPath } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { changed, ensureKeys, type EnsureOptions, type EnsureResult } from './allocate.js';
import { readState, withStateLock, writeState } from './store.js';
import type { FleetState } from './types.js';

export interface Fleet {
  inventory: Inventory;
  state: FleetState;
}

/**
 * Loads the inventory and, holding the state lock, generates keys/ports for nodes lacking them (and applies
 * `opts`). The state file is written only when something changed; `log` says what.
 */
export async function openFleet(
  inventoryArg: string | undefined,
  log: (msg: string) => void,
  opts: EnsureOptions = {},
): Promise<Fleet> {
  const inventory = loadInventory(resolveInventoryPath(inventoryArg));
  return withStateLock(inventory.statePath, () => {
    const result = ensureKeys(inventory, readState(inventory.statePath), opts);
    if (changed(result)) {
      writeState(inventory.statePath, result.state);
      for (const line of describeChanges(result)) log(line);
    }
    return { inventory, state: result.state };
  });
}

function describeChanges(r: EnsureResult): string[] {
  const lines: [string, string[]][] = [
    ['generated keys for', r.generated],
    ['rotated keys of', r.rotated],
    ['moved SendPort of', r.moved],
    ['pruned', r.pruned],
  ];
  return lines.filter(([, names]) => names.length > 0).map(([what, names]) => `${what} ${names.join(', ')}`);
}
