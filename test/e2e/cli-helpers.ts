// Running the real CLI, editing its inventory and reading its --json output, and waiting on real
// networks, for the end-to-end tests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { NodeOutcome } from '../../src/run/outcome.js';
import type { StatusDocument } from '../../src/status/format.js';
import { CLI } from '../fixtures/cli.js';

export { CLI };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The per-node outcomes of a `deploy --json` run, by node name. */
export function outcomes(stdout: string): Map<string, NodeOutcome> {
  const doc = JSON.parse(stdout) as { nodes: NodeOutcome[] };
  return new Map(doc.nodes.map((o) => [o.node, o]));
}

/** Changes an inventory file in place; going through the YAML document keeps its comments and layout. */
export function editInventory(path: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const doc = parseDocument(readFileSync(path, 'utf8'));
  edit(doc);
  writeFileSync(path, doc.toString());
}

/** Polls until check() returns a truthy value or the deadline passes; returns the last value. */
export async function waitFor<T>(check: () => Promise<T>, timeoutMs: number, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls `status --json` until it exits 0 (60 s); asserts it did, naming the problems left. */
export async function waitForHealthy(inventory: string): Promise<StatusDocument> {
  let doc: StatusDocument | undefined;
  const ok = await waitFor(
    async () => {
      const r = await runCli(['status', inventory, '--json']);
      doc = JSON.parse(r.stdout) as StatusDocument;
      return r.code === 0;
    },
    60_000,
    2000,
  );
  assert.ok(ok, `status stayed unhealthy: ${JSON.stringify(doc?.problems)}`);
  return doc!;
}
