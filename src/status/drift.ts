// Config drift: the files a node has against the files the plan gives it, compared by sha256. Pure.
import { createHash } from 'node:crypto';
import type { NodeFiles } from '../mesh/types.js';
import type { DriftedFile } from './types.js';

/**
 * `reported` is the agent's configHashes (file name -> sha256 hex). Files the node has beyond the
 * plan's are not drift: config_dir may hold the operator's own files.
 */
export function driftedFiles(planned: NodeFiles, reported: Readonly<Record<string, string>>): DriftedFile[] {
  const drifted: DriftedFile[] = [];
  for (const [name, content] of Object.entries(planned)) {
    if (content === undefined) continue;
    const actual = reported[name];
    if (actual === undefined) drifted.push({ name, change: 'missing' });
    else if (actual.toLowerCase() !== sha256(content)) drifted.push({ name, change: 'differs' });
  }
  return drifted;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
