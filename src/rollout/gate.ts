// The health gate after a batch of a rollout (deploy --serial): the mesh itself says whether the batch
// works. Built on the status round's own analysis (status/analyze.ts). Pure.
import type { LinkHealth, MeshHealth, NodeProbe } from '../status/types.js';
import { endRank } from '../status/faults.js';

/** One status round of the gate: the analysis and what each asked node said. */
export interface GateRound {
  health: MeshHealth;
  probes: ReadonlyMap<string, NodeProbe>;
}

/** A link the gate checks: `node` is in the batch, `peer` at its other end. */
export interface GatedLink {
  node: string;
  peer: string;
}

const key = (from: string, to: string): string => `${from}\0${to}`;
const cellsOf = (health: MeshHealth): Map<string, LinkHealth> => new Map(health.links.map((l) => [key(l.from, l.to), l]));

/**
 * The links between the batch's nodes and the nodes already on the plan: those of earlier batches,
 * the batch itself, and any other node whose end of the link is already as planned (the right peer
 * key and port: the rollout will not touch that end, so the link must work now). A node whose end
 * is not yet as planned waits for its own batch; its links are checked then.
 */
export function gatedLinks(batch: readonly string[], deployed: ReadonlySet<string>, first: MeshHealth): GatedLink[] {
  const inBatch = new Set(batch);
  const cells = cellsOf(first);
  const links: GatedLink[] = [];
  for (const node of batch) {
    for (const peer of first.peers) {
      const mine = cells.get(key(node, peer));
      if (peer === node || !mine || mine.status === 'not-expected') continue;
      const theirs = cells.get(key(peer, node));
      const settled = inBatch.has(peer) || deployed.has(peer) || (theirs !== undefined && (endRank(theirs.status, theirs.fault) ?? 2) <= 1);
      if (settled) links.push({ node, peer });
    }
  }
  return links;
}

export interface GateFailure {
  node: string;
  reasons: string[];
}

export interface GateVerdict {
  passed: boolean;
  /** Batch nodes that fail the gate, each with why. */
  failing: GateFailure[];
}

export interface GateInput {
  batch: readonly string[];
  links: readonly GatedLink[];
  /** Batch nodes whose deploy failed, with the reason. */
  deployFailed: ReadonlyMap<string, string>;
  /** The gate's first round (the baseline of the traffic counters) and its latest. */
  first: GateRound;
  now: GateRound;
  /** With babeld, its hellos cross every working link every few seconds: a link must carry traffic both ways. */
  babeld: boolean;
}

/**
 * A batch node passes when its deploy succeeded, it answers, and each of its gated links is up at both
 * ends as status counts it (a handshake within 180 s and, with babeld, a live babel neighbour) and,
 * with babeld, has received packets at both ends since the gate's first round: a link the batch broke
 * may still show an older handshake and neighbour for a while, but no new packets.
 */
export function gateVerdict(input: GateInput): GateVerdict {
  const { batch, links, deployFailed, first, now, babeld } = input;
  const cells = cellsOf(now.health);
  const reasons = new Map<string, string[]>(batch.map((n) => [n, []]));
  const add = (node: string, reason: string): void => void reasons.get(node)?.push(reason);
  const silent = (node: string): string | undefined => {
    const probe = now.probes.get(node);
    if (!probe) return 'not asked';
    if (probe.kind !== 'report') return probe.reason;
    return probe.report.ok ? undefined : (probe.report.error ?? 'the agent failed');
  };
  for (const node of batch) {
    const failed = deployFailed.get(node);
    if (failed !== undefined) add(node, `deploy failed: ${failed}`);
    else {
      const why = silent(node);
      if (why !== undefined) add(node, `did not answer the gate's status round: ${why}`);
    }
  }
  for (const { node, peer } of links) {
    if (deployFailed.has(node) || silent(node) !== undefined) continue;
    const why = silent(peer);
    if (why !== undefined) {
      add(node, `${peer}, at the other end of a link, did not answer: ${why}`);
      continue;
    }
    for (const [from, to] of [
      [node, peer],
      [peer, node],
    ] as const) {
      const cell = cells.get(key(from, to));
      if (!cell) continue;
      if (cell.status !== 'up') add(node, `${from} → ${to} (${cell.interface}): ${cell.reason ?? cell.status}`);
      else if (babeld && !received(first, now, from, cell.interface!)) {
        add(node, `${from} → ${to} (${cell.interface}): no packets received since the gate began`);
      }
    }
  }
  const failing = [...reasons].filter(([, r]) => r.length > 0).map(([node, r]) => ({ node, reasons: r }));
  return { passed: failing.length === 0, failing };
}

function rxBytes(round: GateRound, node: string, iface: string): number | undefined {
  const probe = round.probes.get(node);
  if (probe?.kind !== 'report') return undefined;
  return probe.report.links.find((l) => l.name === iface)?.rxBytes;
}

function received(first: GateRound, now: GateRound, node: string, iface: string): boolean {
  const after = rxBytes(now, node, iface);
  return after !== undefined && after > (rxBytes(first, node, iface) ?? 0);
}
