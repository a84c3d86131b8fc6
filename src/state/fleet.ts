// The shell around the pure core: load the inventory and bring the state up to date under the lock.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadInventory, resolveInventoryPath } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { changed, ensureKeys, type EnsureOptions, type EnsureResult } from './allocate.js';
import { checkKeyPairs } from './codec.js';
import { readStateText, stateOf, withStateLock, writeState } from './store.js';
import type { FleetState } from './types.js';

export interface Fleet {
  inventory: Inventory;
  state: FleetState;
  /** Refuses (InputError naming the state file's line) if a named node's key pair does not match. */
  checkKeyPairs(names: Iterable<string>): void;
}

/** The command's own checks and planning (--limit, --node, templates); may throw InputError. */
type Prepare<P> = (fleet: Fleet) => P;

/** Loads the inventory and generates keys/ports for nodes lacking them (and applies `opts`); for scripts. */
export async function openFleet(inventoryArg: string | undefined, log: (msg: string) => void, opts: EnsureOptions = {}): Promise<Fleet> {
  return prepareFleet(inventoryArg, log, opts, (fleet) => fleet);
}

/**
 * Loads the inventory and generates keys/ports for nodes lacking them (and applies `opts`), then runs the
 * command's checks on the updated fleet *before* the state is written, so a command refused for bad input
 * (an unknown --limit name, a broken template, a damaged key pair) leaves every file as it was. The state
 * file is written, under the state lock, only when something changed; `log` says what.
 */
export async function prepareFleet<P>(
  inventoryArg: string | undefined,
  log: (msg: string) => void,
  opts: EnsureOptions,
  prepare: Prepare<P>,
): Promise<P> {
  const inventory = loadFleetInventory(inventoryArg, log);
  // An up-to-date state is only read, without the lock (writes are atomic renames), so status, render
  // and a no-op keygen never wait behind a running deploy.
  const current = ensured(inventory, opts);
  if (!changed(current.result)) return prepare(fleetOf(inventory, current));
  return withStateLock(inventory.statePath, () => update(inventory, log, opts, prepare, current), lockWaitNote(log));
}

/**
 * prepareFleet, then `run`, holding the state lock throughout. deploy and down use it so two runs on one
 * fleet never interleave their writes to the nodes (nor to the state and its last-run record): the second
 * waits for the lock, then fails naming the holder's pid. One lock, the state's, because the keys a run
 * pushes must not change under it either.
 */
export async function runWithFleetLock<P, T>(
  inventoryArg: string | undefined,
  log: (msg: string) => void,
  prepare: Prepare<P>,
  run: (prepared: P) => Promise<T>,
): Promise<T> {
  const inventory = loadFleetInventory(inventoryArg, log);
  return withStateLock(inventory.statePath, () => run(update(inventory, log, {}, prepare)), lockWaitNote(log));
}

/** The state file's text and what ensureKeys made of it. */
interface Ensured {
  text: string | undefined;
  result: EnsureResult;
}

/** Reads the state and ensures keys, unless the file still holds the text `known` was made from. */
function ensured(inventory: Inventory, opts: EnsureOptions, known?: Ensured): Ensured {
  const text = readStateText(inventory.statePath);
  if (known && known.text === text) return known;
  return { text, result: ensureKeys(inventory, stateOf(inventory.statePath, text), opts) };
}

function fleetOf(inventory: Inventory, { text, result: { state } }: Ensured): Fleet {
  return { inventory, state, checkKeyPairs: (names) => checkKeyPairs(inventory.statePath, text, state, names) };
}

/**
 * Under the lock: re-read, ensure keys, prepare (which may refuse), then write if anything changed.
 * When the file is as it was before the lock, the keys ensured then are used (not generated twice).
 */
function update<P>(inventory: Inventory, log: (msg: string) => void, opts: EnsureOptions, prepare: Prepare<P>, known?: Ensured): P {
  const now = ensured(inventory, opts, known);
  const { result } = now;
  const prepared = prepare(fleetOf(inventory, now));
  if (changed(result)) {
    writeState(inventory.statePath, result.state);
    for (const line of describeChanges(result)) log(line);
  }
  return prepared;
}

function loadFleetInventory(inventoryArg: string | undefined, log: (msg: string) => void): Inventory {
  const inventory = loadInventory(resolveInventoryPath(inventoryArg));
  warnIfWorldWritable(dirname(inventory.statePath), log);
  return inventory;
}

/** Keys are only as safe as the directory holding them; a user's own directory is theirs to chmod, so warn. */
function warnIfWorldWritable(dir: string, log: (msg: string) => void): void {
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    return; // a missing directory fails later, with the state file's name
  }
  if (mode & 0o002) {
    log(
      `warning: ${dir} is writable by every user, who could replace or squat the state file (the fleet's keys); keep it in a directory only you can write`,
    );
  }
}

function lockWaitNote(log: (msg: string) => void) {
  return { onWait: (holder: number | undefined) => log(`waiting for the state lock held by process ${holder ?? '(unknown)'}`) };
}

function describeChanges(r: EnsureResult): string[] {
  const lines: [string, string[]][] = [
    ['generated keys for', r.generated],
    ['rotated keys of', r.rotated],
    ['moved SendPort of', r.moved],
    ['SendPorts follow the new address families of', r.reshaped],
    ['pruned', r.pruned],
  ];
  const said = lines.filter(([, names]) => names.length > 0).map(([what, names]) => `${what} ${names.join(', ')}`);
  const signing = r.state.signing;
  if (r.signing === 'generated') said.push(`generated the fleet's signing key ${signing!.current.publicKey}`);
  if (r.signing === 'next') {
    said.push(
      `made the next signing key ${signing!.next!.publicKey}: publish names it beside the current one; once every node ` +
        'runs such a registry (status), publish --switch-signing-key signs with it',
    );
  }
  return said;
}
