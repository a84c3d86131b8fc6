// Where a lab lives on disk and its record, lab.json (written atomically, read back validated).
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../atomic-file.js';
import { join, resolve } from 'node:path';
import type { Lab } from './types.js';
import { DEFAULT_NAME } from './plan.js';

export const labDir = (name: string, dir?: string): string => resolve(dir ?? join('.lab', name));
const labFile = (dir: string): string => join(dir, 'lab.json');

export function writeLab(lab: Lab): void {
  writeAtomic(labFile(lab.dir), JSON.stringify(lab, null, 2) + '\n', 0o644);
}

/** Reads `<dir>/lab.json`; undefined when there is none (no lab, or an `up` that died very early). */
export function tryReadLab(name: string, dir?: string): Lab | undefined {
  const path = labFile(labDir(name, dir));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let lab: Lab;
  try {
    lab = JSON.parse(text) as Lab;
  } catch {
    throw new Error(`${path}: damaged lab record (not JSON); remove the lab with \`rait-fleet lab down --name ${name}\``);
  }
  if (lab.version !== 1 || lab.name !== name || !Array.isArray(lab.nodes)) {
    throw new Error(`${path}: not a record of lab ${JSON.stringify(name)}`);
  }
  return lab;
}

export function readLab(name: string = DEFAULT_NAME, dir?: string): Lab {
  const lab = tryReadLab(name, dir);
  if (!lab) throw new Error(`no lab ${JSON.stringify(name)} at ${labDir(name, dir)} — start one with \`rait-fleet lab up --name ${name}\``);
  return lab;
}
