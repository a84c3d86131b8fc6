// Compare what the nodes report with the plan: per-node rows, the directed link matrix, problems. Pure.
import type { BabelNeighbour, StatusReport } from '../agent/report.js';
import type { Link, NodePlan, Plan } from '../mesh/types.js';
import { pairIndex } from './pairs.js';
import type { Fault, LinkHealth, LinkStatus, MeshHealth, NodeHealth, NodeProbe } from './types.js';
import { describeFault, endRank } from './faults.js';
import { bootUnitOff, describeProblems, keepsHealing, type FaultyLink } from './problems.js';
import { driftedFiles, runsOtherConfig } from './drift.js';
import { nodeRegistry } from './pull.js';

/**
 * A handshake older than this means the tunnel is not carrying traffic: WireGuard re-handshakes
 * every 2 minutes while packets flow, and babel hellos keep packets flowing.
 */
export const HANDSHAKE_FRESH_SECONDS = 180;

/** babeld's infinite cost: a neighbour whose hellos stopped stays in its table at this cost for a while. */
const BABEL_INFINITY = 0xffff;
const isLive = (n: BabelNeighbour): boolean => n.rxcost < BABEL_INFINITY && n.txcost < BABEL_INFINITY;

interface Cell {
  health: LinkHealth;
  fault?: Fault;
  link?: Link;
}

/**
 * `selected`: the nodes that were asked (rows); every plan node is a column. `probes` must hold a
 * result for each selected node. Only names, counts and public facts leave here: never a NodePlan.
 */
export interface AnalyzeOptions {
  /** The pid of a deploy (or down) of this fleet running while the nodes were asked. */
  deployInProgress?: number;
  /** Pull mode: the newest registry serial published (0: none yet); undefined: the mesh is not in pull mode. */
  publishedSerial?: number;
  /** Unix seconds, for the age of what nodes report; default: now. */
  now?: number;
}

export function analyzeMesh(
  plan: Plan,
  selected: readonly string[],
  probes: ReadonlyMap<string, NodeProbe>,
  opts: AnalyzeOptions = {},
): MeshHealth {
  const wanted = new Set(selected);
  const planned = new Set(plan.nodes.map((np) => np.node.name));
  for (const name of wanted) if (!planned.has(name)) throw new Error(`status: ${name} is not in the plan`);
  const rows = plan.nodes.filter((np) => wanted.has(np.node.name));
  const peers = plan.nodes.map((np) => np.node.name);
  const babeld = plan.mesh.babeld.enabled;

  const reports = new Map<string, StatusReport>();
  for (const np of rows) {
    const probe = probes.get(np.node.name);
    if (!probe) throw new Error(`status: no result for ${np.node.name}`);
    if (probe.kind === 'report' && probe.report.ok) reports.set(np.node.name, probe.report);
  }

  // Indexed per node, so a 1,000-node mesh (a million cells) is analysed in linear time.
  const natted = new Set(plan.nodes.filter((np) => np.node.nat).map((np) => np.node.name));
  const cellsByNode = new Map(rows.map((np) => [np.node.name, cellsOf(np, peers, reports.get(np.node.name), babeld, natted)]));
  const cells = [...cellsByNode.values()].flat();
  const links = cells.map((c) => c.health);
  const linksOf = pairIndex(links);
  markOneSided(cells, linksOf);

  const pull =
    opts.publishedSerial === undefined ? undefined : { published: opts.publishedSerial, now: opts.now ?? Math.floor(Date.now() / 1000) };
  const nodes = rows.map((np) => nodeHealth(np, probes.get(np.node.name)!, cellsByNode.get(np.node.name)!, pull));
  const healthy =
    nodes.every(
      (n) => n.error === undefined && !n.drift && n.linkErrors.length === 0 && !keepsHealing(n) && !bootUnitOff(n) && !n.registry?.problem,
    ) && links.every((l) => l.status === 'up' || l.status === 'not-expected');

  // A pair of dual-stack nodes has a link per family: its problems name the family.
  const faults: FaultyLink[] = cells.flatMap((c) => {
    if (!c.fault || !c.link) return [];
    const { from, to, oneSided } = c.health;
    return [{ from, to, link: c.link, fault: c.fault, oneSided, ...(linksOf(from, to).length > 1 && { family: c.link.family }) }];
  });
  const problems = describeProblems({
    nodes,
    faults,
    silent: new Set(peers.filter((p) => wanted.has(p) && !reports.has(p))),
    babeldStopped: new Set([...reports].filter(([, r]) => babeld && !r.babel.running).map(([name]) => name)),
    bare: new Set(nodes.filter((n) => n.linksExpected > 0 && allMissing(cellsByNode.get(n.node)!)).map((n) => n.node)),
    deployInProgress: opts.deployInProgress,
  });
  const deploy = opts.deployInProgress === undefined ? {} : { deployInProgress: { pid: opts.deployInProgress } };
  const published = pull === undefined ? {} : { publishedSerial: pull.published };
  const ok = healthy && opts.deployInProgress === undefined;
  return {
    healthy: ok,
    exitCode: ok ? 0 : 1,
    handshakeFreshSeconds: HANDSHAKE_FRESH_SECONDS,
    babeld,
    nodes,
    peers,
    links,
    problems,
    ...deploy,
    ...published,
  };
}

/** The row of `np`: per plan node, a cell for each planned link to it (one per shared family), or one saying none is. */
function cellsOf(np: NodePlan, peers: string[], report: StatusReport | undefined, babeld: boolean, natted: ReadonlySet<string>): Cell[] {
  const linksTo = new Map<string, Link[]>();
  for (const l of np.links) linksTo.set(l.peer, [...(linksTo.get(l.peer) ?? []), l]);
  const stateOf = new Map(report?.links.map((l) => [l.name, l]));
  const live = new Set(report?.babel.neighbours.filter(isLive).map((n) => n.interface));
  const from = np.node.name;
  const facts = report && { report, stateOf, live };
  // One array for the row, no array per peer: a 1,000-node mesh has a million cells.
  const row: Cell[] = [];
  for (const peer of peers) {
    // No link between two nodes behind NAT, by design: say why, so nobody goes looking for one.
    if (natted.has(from) && natted.has(peer) && peer !== from) {
      row.push(cell(linkHealth(from, peer, 'not-expected', undefined, undefined, undefined, 'both behind NAT')));
      continue;
    }
    const links = linksTo.get(peer);
    if (!links) row.push(cell(linkHealth(from, peer, 'not-expected')));
    else for (const link of links) row.push(cellOf(from, peer, link, facts, babeld));
  }
  return row;
}

interface Facts {
  report: StatusReport;
  stateOf: Map<string, StatusReport['links'][number]>;
  /** Interfaces with a live babel neighbour. */
  live: Set<string>;
}

function cellOf(from: string, peer: string, link: Link, facts: Facts | undefined, babeld: boolean): Cell {
  if (!facts) return cell(linkHealth(from, peer, 'unknown', link), undefined, link);

  const state = facts.stateOf.get(link.name);
  // What the agent said went wrong explains a link that is not up better than its symptoms.
  const error = facts.report.linkErrors[link.name];
  const failed: Fault | undefined = error === undefined ? undefined : { kind: 'failed', reason: error };
  if (!state) {
    const fault: Fault = failed ?? { kind: 'missing' };
    return cell(linkHealth(from, peer, 'missing', link, undefined, fault), fault, link);
  }
  const symptom = linkFault(link, state, facts, babeld);
  const fault = symptom && failed ? failed : symptom;
  const status: LinkStatus = fault ? 'stale' : 'up';
  return cell(linkHealth(from, peer, status, link, state.handshakeAge, fault), fault, link);
}

/** Cells, too, have one shape. */
const cell = (health: LinkHealth, fault?: Fault, link?: Link): Cell => ({ health, fault, link });

/**
 * Every cell's health has this one shape, its fields always in this order (an absent one is
 * undefined, which --json leaves out): a 1,000-node mesh has a million cells, and the analysis and
 * the matrix read them all. Built as spreads of several shapes, with fields added later, the reads
 * were megamorphic (with the rest of that change, a healthy 500-node mesh: analysis 1.5-1.8 s -> 0.3-0.4
 * s, matrix 0.7 -> 0.1 s).
 */
function linkHealth(
  from: string,
  to: string,
  status: LinkStatus,
  link?: Link,
  handshakeAge?: number | null,
  fault?: Fault,
  reason = fault && describeFault(fault),
): LinkHealth {
  return { from, to, family: link?.family, status, oneSided: false, interface: link?.name, handshakeAge, fault: fault?.kind, reason };
}

/** The first thing that keeps an existing interface from carrying the mesh, most fundamental first. */
function linkFault(link: Link, state: StatusReport['links'][number], facts: Facts, babeld: boolean): Fault | undefined {
  if (state.publicKey !== link.peerPublicKey) return { kind: 'wrong-peer-key', actual: state.publicKey, planned: link.peerPublicKey };
  if (state.listenPort !== link.listenPort) return { kind: 'wrong-listen-port', actual: state.listenPort, planned: link.listenPort };
  if (!state.up) return { kind: 'down' };
  if (state.handshakeAge === null || state.handshakeAge > HANDSHAKE_FRESH_SECONDS) return { kind: 'no-handshake', age: state.handshakeAge };
  if (babeld && !facts.live.has(link.name)) {
    return { kind: 'no-neighbour', babeldRunning: facts.report.babel.running };
  }
  return undefined;
}

/**
 * One end works (or is at least set up as planned) and the other does not: both directions carry the
 * mark. E.g. an interface deleted on one node: the other end keeps its interface but soon loses its
 * babel neighbour and later its handshake; that is still one broken end, not two.
 */
function markOneSided(cells: Cell[], linksOf: (from: string, to: string) => readonly LinkHealth[]): void {
  for (const { health: h } of cells) {
    const there = linksOf(h.to, h.from).find((b) => b.family === h.family);
    if (!there) continue;
    const [a, b] = [endRank(h.status, h.fault), endRank(there.status, there.fault)];
    h.oneSided = a !== undefined && b !== undefined && a !== b;
  }
}

function allMissing(row: Cell[]): boolean {
  return row.every((c) => c.health.status === 'missing' || c.health.status === 'not-expected');
}

function nodeHealth(np: NodePlan, probe: NodeProbe, row: Cell[], pull: { published: number; now: number } | undefined): NodeHealth {
  const node = np.node.name;
  const linksExpected = np.links.length;
  const unreported = (reachable: boolean, error: string): NodeHealth => ({
    node,
    reachable,
    linksUp: null,
    linksExpected,
    babelNeighbours: null,
    routes: null,
    drift: false,
    driftedFiles: [],
    extraInterfaces: [],
    babeldStale: false,
    linkErrors: [],
    persistence: null,
    registry: null,
    error,
  });
  if (probe.kind !== 'report') return unreported(probe.kind === 'failed', probe.reason);
  const r = probe.report;
  if (!r.ok) return unreported(true, r.error ?? 'the agent reported a failure without a reason');

  const planned = new Set(np.links.map((l) => l.name));
  const extraInterfaces = r.links.map((l) => l.name).filter((name) => !planned.has(name));
  const drifted = driftedFiles(np.files, r.configHashes);
  const babeldStale = runsOtherConfig(np.files, r.babel.configHash);
  const peerOf = new Map(np.links.map((l) => [l.name, l.peer]));
  const linkErrors = Object.entries(r.linkErrors).map(([name, reason]) => ({ interface: name, peer: peerOf.get(name), reason }));
  return {
    node,
    reachable: true,
    linksUp: row.filter((c) => c.health.status === 'up').length,
    linksExpected,
    babelNeighbours: r.babel.neighbours.filter(isLive).length,
    routes: r.babel.routes,
    drift: drifted.length > 0 || extraInterfaces.length > 0 || babeldStale,
    driftedFiles: drifted,
    extraInterfaces,
    babeldStale,
    linkErrors,
    persistence: r.persistence,
    registry: pull ? nodeRegistry(node, r.pull, pull.published, pull.now) : null,
  };
}
