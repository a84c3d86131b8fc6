// Reads the templates an inventory names (the edge around pure planning).
import { readText } from '../atomic-file.js';
import type { Inventory } from '../inventory/types.js';

export interface TemplateTexts {
  babeld?: string;
}

export function loadTemplates(inv: Inventory): TemplateTexts {
  return inv.mesh.babeld.enabled ? { babeld: readTemplate(inv.mesh.babeld.template) } : {};
}

export const readTemplate = (path: string): string => readText(path, 'template');
