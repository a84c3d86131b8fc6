// Human-readable end-of-run output for deploy, deploy --check and down. Pure.
import { babeldChanged } from '../agent/report.js';
import type { NodeOutcome } from './outcome.js';
import { formatTable } from '../output/table.js';

export function formatSummary(outcomes: NodeOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.node,
    o.result,
    count(o.links?.added),
    count(o.links?.updated),
    count(o.links?.removed),
    count(o.links?.kept),
    `${(o.ms / 1000).toFixed(1)} s`,
  ]);
  const table = formatTable(['node', 'result', 'added', 'updated', 'removed', 'kept', 'time'], rows);
  const failures = outcomes.filter((o) => o.error).map((o) => `${o.node}: ${o.result}: ${o.error}`);
  return [table, ...failures, ...notes(outcomes)].join('\n');
}

/** What --check found: per node, the link and file changes a deploy would make. */
export function formatCheck(outcomes: NodeOutcome[]): string {
  const out: string[] = [];
  for (const o of outcomes) {
    // The agent never ran, or did not say what it found: nothing to list but why.
    if (!o.links) {
      out.push(`${o.node}: ${o.result}: ${o.error}`);
      continue;
    }
    const changes = [
      ...o.links.added.map((l) => `  + link ${l}`),
      ...o.links.updated.map((l) => `  ~ link ${l}`),
      ...o.links.removed.map((l) => `  - link ${l}`),
    ];
    for (const f of o.files ?? []) if (f.changed) changes.push(`  ~ file ${f.name}`, ...(f.diff ? indent(f.diff) : []));
    if (o.babeld && babeldChanged(o.babeld)) changes.push(`  ~ babeld: ${o.babeld}`);
    const failed = o.links.failed.length ? o.links.failed.map((f) => `  ! link ${f.name}: ${f.error}`) : o.error ? [`  ! ${o.error}`] : [];
    const head = failed.length ? `${o.node}: would fail` : changes.length ? `${o.node}: would change` : `${o.node}: up to date`;
    out.push([head, ...changes, ...failed].join('\n'));
  }
  return [...out, ...notes(outcomes)].join('\n');
}

/** Each note once, with the nodes that gave it: a fleet's nodes often say the same thing. */
function notes(outcomes: NodeOutcome[]): string[] {
  const nodesOf = new Map<string, string[]>();
  for (const o of outcomes) for (const n of o.notes ?? []) nodesOf.set(n, [...(nodesOf.get(n) ?? []), o.node]);
  return [...nodesOf].map(([note, nodes]) => `${nodes.join(', ')}: note: ${note}`);
}

const count = (xs: string[] | undefined): string => (xs ? String(xs.length) : '-');
const indent = (text: string): string[] =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `      ${l}`);
