// Reads the templates an inventory names (the edge around pure planning).
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';

export interface TemplateTexts {
  babeld?: string;
}

export function loadTemplates(inv: Inventory): TemplateTexts {
  return inv.mesh.babeld.enabled ? { babeld: readTemplate(inv.mesh.babeld.template) } : {};
}

export function readTemplate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read template: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
  }
}
