#!/usr/bin/env node
// Builds the node agent: the parts in src/agent/sh, one job each, concatenated in the order below
// into one POSIX sh script (dist/agent/rait-fleet-agent) that a node receives, keeps and runs alone.
// Each part starts with a marker line naming its source, so a shellcheck finding or a trace in the
// built script leads back to the file to edit.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Definitions before use is not needed in sh, but reading top-down is: helpers first, entry points last. */
export const PARTS = [
  'head', // shebang, usage, shell options
  'log', // cmd/die/trace: every change printed as it runs
  'json', // the report's JSON writers
  'require', // programs and WireGuard implementation on this node
  'plan', // the plan's format and its validation
  'isolation', // where links and their sockets live: none, netns, vrf
  'facts', // what the node has, read once, and the one parser of it
  'decide', // facts + plan -> what to change (pure)
  'files', // config files, written atomically
  'links', // create, configure and delete WireGuard links
  'placement', // the record of where the links live, and moving them
  'babeld', // the routing daemon and its control socket
  'persist', // the agent and its units on the node: apply at boot and to heal
  'pull', // pull mode: fetch, verify and unpack the signed registry
  'rollback', // snapshots, the dead-man switch, confirm and rollback
  'status', // the status report
  'main', // entry points
];

export function buildAgent() {
  const body = PARTS.map((part) => {
    const rel = `src/agent/sh/${part}.sh`;
    const text = readFileSync(join(root, rel), 'utf8');
    if (!text.endsWith('\n')) throw new Error(`${rel}: no final newline`);
    return part === 'head' ? text : `# ---- ${rel}\n${text}`;
  });
  return body.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = join(root, 'dist/agent/rait-fleet-agent');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, buildAgent());
  chmodSync(out, 0o755);
}
