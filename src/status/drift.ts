// Config drift: the files a node has against the files the plan gives it, compared by sha256.
// Pure but for a memo of the hashes.
import { createHash } from 'node:crypto';
import { CONFIG_FILES, type NodeFiles } from '../mesh/types.js';
import type { DriftedFile } from './types.js';

/**
 * `reported` is the agent's configHashes (file name -> sha256 hex). Files the node has beyond the
 * plan's are not drift: config_dir may hold the operator's own files. Only config files count: the
 * units are installed only where systemd runs (status reports persistence on its own).
 */
export function driftedFiles(planned: NodeFiles, reported: Readonly<Record<string, string>>): DriftedFile[] {
  const drifted: DriftedFile[] = [];
  for (const name of CONFIG_FILES) {
    const content = planned[name];
    if (content === undefined) continue;
    const actual = reported[name];
    if (actual === undefined) drifted.push({ name, change: 'missing' });
    else if (actual.toLowerCase() !== sha256(content)) drifted.push({ name, change: 'differs' });
  }
  return drifted;
}

/**
 * The agent's babeld runs another config than the plan's babeld.conf (`runningHash`: the agent's
 * sha256 of the config its babeld runs; null when babeld is not the agent's or not running).
 */
export function runsOtherConfig(planned: NodeFiles, runningHash: string | null): boolean {
  const config = planned['babeld.conf'];
  return config !== undefined && runningHash !== null && runningHash.toLowerCase() !== sha256(config);
}

// peers.conf is one string shared by every node, and --watch compares the same plan each round:
// hash each distinct file once. Bounded by the plan's files, which live as long as the process.
const hashes = new Map<string, string>();
function sha256(text: string): string {
  let hash = hashes.get(text);
  if (hash === undefined) hashes.set(text, (hash = createHash('sha256').update(text, 'utf8').digest('hex')));
  return hash;
}
