// The problem list: what is wrong in the mesh, in plain words, each with its likely fix. Pure.
import type { AddressFamily } from '../inventory/types.js';
import type { Link } from '../mesh/types.js';
import type { Fault, NodeHealth } from './types.js';
import { describeFault, isConfigFault } from './faults.js';

/** A planned link that is not up, seen from a node that reported. */
export interface FaultyLink {
  from: string;
  to: string;
  link: Link;
  fault: Fault;
  oneSided: boolean;
  /** The link's family, when the pair has a link in each (said in the problem). */
  family?: AddressFamily;
}

export interface ProblemFacts {
  /** The rows, in order; their own problems (unreachable, failed, drift, extra interfaces) come first. */
  nodes: NodeHealth[];
  /** Nodes whose babeld should run but does not. */
  babeldStopped: ReadonlySet<string>;
  /** Nodes that have none of their planned interfaces: one line each instead of one per link. */
  bare: ReadonlySet<string>;
  /** In matrix order. */
  faults: FaultyLink[];
  /** Nodes that did not report: whatever their peers see of them follows from that. */
  silent: ReadonlySet<string>;
  /** The pid of a deploy running meanwhile. */
  deployInProgress?: number;
}

export function describeProblems(facts: ProblemFacts): string[] {
  // A running deploy changes links as they are read: what is missing or stale now may be right in a
  // second, so only what no deploy explains is said (a node that did not answer).
  if (facts.deployInProgress !== undefined) {
    return [
      `deploy in progress (process ${facts.deployInProgress}): links are being changed — run status again when it ends`,
      ...facts.nodes.filter((n) => !n.reachable).map((n) => unreachable(n)),
    ];
  }
  return [...facts.nodes.flatMap((n) => nodeProblems(n, facts)), ...linkProblems(facts)];
}

/** systemd runs the node, but the unit that applies its plan at boot is not enabled. */
export const bootUnitOff = (n: NodeHealth): boolean => n.persistence?.via === 'systemd' && !n.persistence.enabled;

/** One heal that had to change something is what heals are for; a second in a day is a pattern. */
export const keepsHealing = (n: NodeHealth): boolean => (n.persistence?.healsChanged ?? 0) >= 2;

const unreachable = (n: NodeHealth): string => `${n.node}: unreachable — ${n.error ?? 'no reason given'}`;

function nodeProblems(n: NodeHealth, { babeldStopped, bare }: ProblemFacts): string[] {
  const lines: string[] = [];
  if (!n.reachable) lines.push(unreachable(n));
  else if (n.error !== undefined) lines.push(`${n.node}: failed — ${n.error}`);
  if (n.driftedFiles.length > 0) {
    const files = n.driftedFiles.map((f) => `${f.name} ${f.change}`).join(', ');
    lines.push(`${n.node}: config drift — deployed files differ from the plan (${files}), run deploy`);
  }
  if (n.extraInterfaces.length > 0) {
    lines.push(`${n.node}: interfaces not in the plan (${n.extraInterfaces.join(', ')}) — run deploy to remove them`);
  }
  if (keepsHealing(n)) {
    const p = n.persistence!;
    lines.push(
      `${n.node}: healed itself ${p.healsChanged} times in the last 24 h (last it made or fixed: ${p.lastHealChange || 'babeld'}) — ` +
        'something keeps breaking there: look at its wireguard-go and babeld (/var/log/rait-fleet/babeld.log)',
    );
  }
  if (bootUnitOff(n)) {
    lines.push(`${n.node}: the unit that brings the mesh back at boot (rait-fleet.service) is not enabled — run deploy`);
  }
  if (n.registry?.problem) lines.push(n.registry.problem);
  if (n.babeldStale) lines.push(`${n.node}: babeld runs an older babeld.conf than the deployed one — run deploy to restart it`);
  for (const e of n.linkErrors) {
    lines.push(`${n.node}: ${e.interface}${e.peer ? ` (to ${e.peer})` : ''}: ${e.reason} — fix that, then run deploy`);
  }
  if (bare.has(n.node)) lines.push(`${n.node}: none of its ${n.linksExpected} planned interfaces exist — run deploy`);
  if (babeldStopped.has(n.node)) lines.push(`${n.node}: babeld not running — run deploy to start it, or look at its log`);
  return lines;
}

function linkProblems(facts: ProblemFacts): string[] {
  const { faults } = facts;
  const byPair = new Map(faults.map((f) => [pairKey(f.from, f.to, f.link.family), f]));
  const done = new Set<string>();
  const lines: string[] = [];
  for (const f of faults) {
    if (done.has(pairKey(f.from, f.to, f.link.family))) continue;
    const back = byPair.get(pairKey(f.to, f.from, f.link.family));
    const family = f.family ? ` (${f.family})` : '';
    if (back && sameTransportFault(f.fault, back.fault)) {
      done.add(pairKey(back.from, back.to, back.link.family));
      lines.push(`${f.from} ↔ ${f.to}${family}: ${bothWays(f)}`);
    } else if (!followsFromElsewhere(f, back, facts)) {
      lines.push(`${f.from} → ${f.to}${family}: ${oneWay(f)}`);
    }
  }
  return lines;
}

/** Both ends failing the same way is one problem of the pair, not two. */
function sameTransportFault(a: Fault, b: Fault): boolean {
  if (a.kind === 'no-handshake' && b.kind === 'no-handshake') return true;
  return a.kind === 'no-neighbour' && b.kind === 'no-neighbour' && a.babeldRunning && b.babeldRunning;
}

/**
 * Already said elsewhere: a link the agent failed on (with its node); a bare node's missing
 * interfaces (at node level); a silent or bare peer, or
 * a missing or misconfigured far end (on its own line, with the fix), explains a missing handshake or
 * neighbour; a stopped babeld explains missing neighbours.
 */
function followsFromElsewhere(f: FaultyLink, back: FaultyLink | undefined, { silent, bare, babeldStopped }: ProblemFacts): boolean {
  const peerGone = silent.has(f.to) || bare.has(f.to) || (back !== undefined && isConfigFault(back.fault.kind));
  switch (f.fault.kind) {
    case 'missing':
      return bare.has(f.from);
    case 'no-handshake':
      return peerGone;
    case 'no-neighbour':
      return peerGone || babeldStopped.has(f.to) || !f.fault.babeldRunning;
    case 'failed':
      return true; // said with the node, in the agent's words
    default:
      return false;
  }
}

function bothWays(f: FaultyLink): string {
  if (f.fault.kind === 'no-neighbour') return 'tunnel up but no babel neighbours — babel traffic (UDP 6696) blocked on the tunnel?';
  return `${describeFault(f.fault)} — ${endpointHint(f)}`;
}

function oneWay(f: FaultyLink): string {
  const { link, from, to } = f;
  const sided = f.oneSided ? ` (one-sided: ${to}'s end is up)` : '';
  switch (f.fault.kind) {
    case 'missing':
      return `interface ${link.name} missing on ${from}${sided} — run deploy`;
    case 'wrong-peer-key':
    case 'wrong-listen-port':
      return `${link.name} on ${from}: ${describeFault(f.fault)}${sided} — run deploy`;
    case 'down':
      return `interface ${link.name} is down on ${from}${sided} — run deploy`;
    case 'no-handshake':
      return `${describeFault(f.fault)}${sided} — ${endpointHint(f)}`;
    case 'no-neighbour':
      return `tunnel up but no babel neighbour on ${link.name}${sided} — babeld on ${to} not using its end, or UDP 6696 blocked?`;
    case 'failed':
      return `${link.name} on ${from}: ${f.fault.reason}${sided} — fix that, then run deploy`;
  }
}

function endpointHint({ link, from, to }: FaultyLink): string {
  if (link.endpointHost === null) return `${to} is behind NAT and has not reached ${from}: is ${to} up, and its way out open?`;
  const host = link.endpointHost.includes(':') ? `[${link.endpointHost}]` : link.endpointHost;
  return `endpoint ${host}:${link.endpointPort} unreachable from ${from}?`;
}

const pairKey = (from: string, to: string, family: AddressFamily): string => `${from}\0${to}\0${family}`;
