// A real lab for one describe block of the end-to-end tests.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, type Lab } from '../../src/lab/index.js';

export interface LabSuite {
  /** Up from the suite's first `before` hook on; read it in hooks and tests only. */
  readonly lab: Lab;
  /** The suite's own temporary directory; the lab and its inventory live in it. */
  readonly work: string;
  /** `<work>/<tag>.yaml`, written by `lab up`. */
  readonly inventory: string;
  /** The inventory's default state file beside it. */
  readonly statePath: string;
}

/**
 * Registers hooks on the enclosing describe: a lab of `nodes` comes up before its tests, and it goes
 * down, with the work directory, after them — also when they failed. Call it before the suite's own
 * hooks, which then see the lab up (and, in `after`, already down).
 */
export function labSuite(tag: string, nodes: number, opts: { nat?: string[]; dualStack?: boolean } = {}): LabSuite {
  const work = mkdtempSync(join(tmpdir(), `rf-${tag}-e2e-`));
  const inventory = join(work, `${tag}.yaml`);
  let lab: Lab | undefined;
  before(async () => {
    // A lab name is at most 7 characters (its link names have 15).
    lab = await labUp({
      nodes,
      name: `${tag[0]}${randomBytes(3).toString('hex')}`,
      dir: join(work, 'lab'),
      inventory,
      nat: opts.nat,
      dualStack: opts.dualStack,
      log: () => {},
    });
  });
  after(async () => {
    if (lab) await labDown(lab.name, lab.dir).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });
  return {
    get lab() {
      if (!lab) throw new Error(`the ${tag} lab is not up`);
      return lab;
    },
    work,
    inventory,
    statePath: inventory.replace(/\.yaml$/, '.state.toml'),
  };
}
