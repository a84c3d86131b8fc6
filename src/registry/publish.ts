// `rait-fleet publish`: the registry of the whole fleet, signed, into a directory to upload as it is.
// The serial grows in the state file first (under its lock), then the files are written: a publish
// that fails half-way only skips a serial, never reuses one. No network.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../atomic-file.js';
import { InputError } from '../errors.js';
import { isName } from '../inventory/checks.js';
import { renderFilesOf } from '../mesh/plan.js';
import type { Plan } from '../mesh/types.js';
import { planSelection } from '../run/plan-selection.js';
import { runWithFleetLock, type Fleet } from '../state/fleet.js';
import { nextPublication, signDetached } from '../state/signing.js';
import { writeState } from '../state/store.js';
import type { Signing, SigningKey } from '../state/types.js';
import { envelope, fleetIndex, nodeRegistry, type Publication } from './format.js';

export interface PublishOptions {
  /** The directory to write (made when missing). */
  out: string;
  /** Seconds the registry stays valid. */
  expiresIn: number;
  /** Sign with the next key, which becomes the current one. */
  switchSigningKey: boolean;
}

export interface Published {
  publication: Publication;
  nodes: number;
  /** Bytes of every file written. */
  bytes: number;
  /** The largest node file, in bytes: what one node's pull fetches at most. */
  largestNode: number;
}

export const INDEX_FILE = 'registry';
export const NODES_DIR = 'nodes';

export function publishRegistry(inventoryArg: string | undefined, opts: PublishOptions, log: (m: string) => void): Promise<Published> {
  return runWithFleetLock(
    inventoryArg,
    log,
    (fleet) => preparePublish(fleet, opts),
    ({ fleet, plan, signing }) => {
      const { inventory, state } = fleet;
      writeState(inventory.statePath, { ...state, signing });
      return Promise.resolve(writeRegistry(plan, publicationOf(signing, opts.expiresIn), signing.current, opts.out));
    },
  );
}

/** Everything that can refuse the publish does so here, before the state is written. */
function preparePublish(fleet: Fleet, opts: PublishOptions): { fleet: Fleet; plan: Plan; signing: Signing } {
  const { inventory, state } = fleet;
  if (!inventory.mesh.pull) {
    throw new InputError('not set: publish writes the registry nodes in pull mode follow (docs/pull-mode.md)', {
      file: inventory.path,
      field: 'mesh.pull',
    });
  }
  const { plan } = planSelection(fleet, undefined);
  renderFilesOf(plan, inventory.nodes);
  const signing = nextPublication(state.signing!, opts.switchSigningKey);
  if (typeof signing === 'string') throw new InputError(signing, { field: '--switch-signing-key' });
  return { fleet, plan, signing };
}

function publicationOf(signing: Signing, expiresIn: number): Publication {
  const published = Math.floor(Date.now() / 1000);
  return {
    serial: signing.serial,
    published,
    expires: published + expiresIn,
    signer: signing.current.publicKey,
    ...(signing.next && { nextSigner: signing.next.publicKey }),
  };
}

/**
 * `out/nodes/<name>` per node (its signed file, one at a time, so a 1,000-node fleet never holds
 * all of them in memory), `out/registry` and `out/registry.sig`; files of nodes no longer in the
 * fleet are removed, nothing else in `out` is touched.
 */
function writeRegistry(plan: Plan, publication: Publication, key: SigningKey, out: string): Published {
  const nodesDir = join(out, NODES_DIR);
  mkdirSync(nodesDir, { recursive: true });
  const write = (path: string, text: string): number => {
    writeAtomic(path, text, 0o644, false);
    return Buffer.byteLength(text);
  };
  let bytes = 0;
  let largestNode = 0;
  for (const np of plan.nodes) {
    const body = nodeRegistry(np, plan, publication);
    const size = write(join(nodesDir, np.node.name), envelope(body, signDetached(key, Buffer.from(body))));
    bytes += size;
    largestNode = Math.max(largestNode, size);
  }
  const names = new Set(plan.nodes.map((np) => np.node.name));
  for (const name of readdirSync(nodesDir)) if (isName(name) && !names.has(name)) rmSync(join(nodesDir, name), { force: true });
  const index = fleetIndex(plan, publication);
  bytes += write(join(out, INDEX_FILE), index);
  bytes += write(join(out, `${INDEX_FILE}.sig`), `${signDetached(key, Buffer.from(index))}\n`);
  return { publication, nodes: plan.nodes.length, bytes, largestNode };
}
