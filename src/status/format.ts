// What `rait-fleet status` prints: the node table, the link matrix with its legend, the problems,
// or (--json) one document with all of it plus each node's raw facts. Pure.
import type { StatusReport } from '../agent/report.js';
import { formatTable } from '../output/table.js';
import { endRank } from './faults.js';
import { pairIndex } from './pairs.js';
import { ago } from './pull.js';
import type { LinkHealth, LinkStatus, MeshHealth, NodeHealth, NodeProbe } from './types.js';

const SYMBOL: Record<LinkStatus, string> = { up: '✓', stale: '~', missing: '✗', 'not-expected': '·', unknown: '?' };
const ONE_SIDED = '!';
const LEGEND = `${SYMBOL.up} up  ${ONE_SIDED} up here, broken at the other end  ${SYMBOL.stale} stale  ${SYMBOL.missing} missing  ${SYMBOL['not-expected']} not expected  ${SYMBOL.unknown} unknown`;

export interface FormatOptions {
  /** Columns the output may use: a wider matrix gives way to the list of links that are not up. */
  width: number;
}

export function formatStatus(health: MeshHealth, { width }: FormatOptions = { width: Infinity }): string {
  const links = matrixWidth(health) <= width ? linkMatrix(health) : linksNotUp(health, width);
  return [nodeTable(health.nodes, health.publishedSerial !== undefined), '', links, LEGEND, '', problemList(health)].join('\n');
}

function nodeTable(nodes: NodeHealth[], pullMode: boolean): string {
  const rows = nodes.map((n) => [
    n.node,
    !n.reachable ? 'unreachable' : n.error !== undefined ? 'failed' : 'ok',
    `${n.linksUp ?? '-'}/${n.linksExpected}`,
    n.babelNeighbours === null ? '-' : String(n.babelNeighbours),
    n.routes === null ? '-' : String(n.routes),
    n.linksUp === null ? '-' : n.drift ? 'yes' : 'no',
    n.persistence === null ? '-' : n.persistence.via === 'systemd' && !n.persistence.enabled ? 'systemd (off)' : n.persistence.via,
    ...(pullMode ? [registryCell(n)] : []),
  ]);
  const head = ['node', 'state', 'links up', 'babel neighbours', 'routes', 'drift', 'boot', ...(pullMode ? ['registry'] : [])];
  return formatTable(head, rows);
}

/** Pull mode: the serial the node runs and how long ago it was published, `!` when that is a problem. */
function registryCell(n: NodeHealth): string {
  const r = n.registry;
  if (!r || r.serial === null) return r?.problem ? 'none !' : '-';
  return `${r.serial}${r.age === null ? '' : ` (${ago(r.age)})`}${r.problem ? ' !' : ''}`;
}

/** Of the marks of a pair's links (one per family), the one that needs a look first. */
const WORST_FIRST = [SYMBOL.missing, SYMBOL.stale, SYMBOL.unknown, ONE_SIDED, SYMBOL.up, SYMBOL['not-expected']];

/** The mark of the row node's interfaces towards the column node: the worst of its links'. */
function marker(health: MeshHealth): (from: string, to: string) => string {
  const linksOf = pairIndex(health.links);
  const markOf = (l: LinkHealth | undefined, back: readonly LinkHealth[]): string =>
    symbolOf(
      l,
      back.find((b) => b.family === l?.family),
    );
  return (from, to) => {
    const here = linksOf(from, to);
    const back = linksOf(to, from);
    // Nearly every pair has one link (or none): its mark, without arrays (N² pairs).
    if (here.length < 2) return markOf(here[0], back);
    const marks = here.map((l) => markOf(l, back));
    return WORST_FIRST.find((m) => marks.includes(m)) ?? marks[0]!;
  };
}

const MATRIX_CORNER = 'from \\ to';
const columns = (text: string): number => [...text].length;

/** The matrix's widest line, its header, measured without building the matrix (N² cells). */
function matrixWidth(health: MeshHealth): number {
  const first = Math.max(columns(MATRIX_CORNER), ...health.nodes.map((n) => columns(n.node)));
  return health.peers.reduce((sum, p) => sum + 2 + Math.max(columns(p), 1), first);
}

/** Rows: the reporting nodes; columns: every node. */
function linkMatrix(health: MeshHealth): string {
  const mark = marker(health);
  const rows = health.nodes.map((n) => [n.node, ...health.peers.map((p) => mark(n.node, p))]);
  return formatTable([MATRIX_CORNER, ...health.peers], rows);
}

/**
 * A big fleet's matrix is too wide to read: one line per node that has links not up, with the same
 * marks, so a broken pair can still be found at a glance. Healthy rows are left out.
 */
function linksNotUp(health: MeshHealth, width: number): string {
  const mark = marker(health);
  const rows = health.nodes.flatMap((n) => {
    const marks: (readonly [string, string])[] = [];
    for (const p of health.peers) {
      if (p === n.node) continue;
      const m = mark(n.node, p);
      if (m !== SYMBOL.up && m !== SYMBOL['not-expected']) marks.push([p, m]);
    }
    if (marks.length === 0) return [];
    const silent = n.linksUp === null;
    return [[n.node, silent ? `${SYMBOL.unknown} every peer (did not report)` : marks.map(([p, mark]) => `${mark} ${p}`).join('  ')]];
  });
  const head = `links not up (the ${health.peers.length}-node matrix is wider than ${width} columns; --matrix prints it):`;
  return rows.length === 0 ? `${head}\n  none` : `${head}\n${indent(formatTable(['from', 'to'], rows))}`;
}

const indent = (text: string): string => text.replace(/^/gm, '  ');

/** A one-sided pair shows the mark on its working end, so the cross marks the end to fix. */
function symbolOf(link: LinkHealth | undefined, back: LinkHealth | undefined): string {
  if (!link) return SYMBOL.unknown;
  const here = endRank(link.status, link.fault);
  const there = back && endRank(back.status, back.fault);
  const works = link.oneSided && here !== undefined && there !== undefined && here < there;
  return works ? ONE_SIDED : SYMBOL[link.status];
}

function problemList(health: MeshHealth): string {
  if (health.problems.length === 0) {
    const up = health.links.filter((l) => l.status === 'up').length;
    return `healthy: ${up} links up, no drift`;
  }
  return ['problems:', ...health.problems.map((p) => `  ${p}`)].join('\n');
}

/** Raw facts per node, picked field by field so nothing beyond them reaches the output. */
export interface NodeFacts {
  wireguard?: StatusReport['wireguard'];
  versions: StatusReport['versions'];
  links: StatusReport['links'];
  babel: StatusReport['babel'];
}

export type StatusDocument = MeshHealth & { facts: Record<string, NodeFacts> };

export function statusDocument(health: MeshHealth, probes: ReadonlyMap<string, NodeProbe>): StatusDocument {
  const facts: Record<string, NodeFacts> = {};
  for (const { node } of health.nodes) {
    const probe = probes.get(node);
    if (probe?.kind !== 'report') continue;
    const { wireguard, versions, links, babel } = probe.report;
    facts[node] = { wireguard, versions, links, babel };
  }
  return { ...health, facts };
}
