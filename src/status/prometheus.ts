// A status round in Prometheus' text exposition format (0.0.4): what `status --prometheus` prints for
// node_exporter's textfile collector and what `rait-fleet exporter` serves. Links are labelled by the
// node names at both ends, so a query or a dashboard reads like the status matrix. Pure.
import type { BabelNeighbour, LinkState, StatusReport } from '../agent/report.js';
import type { LinkHealth, NodeHealth, StatusRound } from './types.js';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

/** One metric family: a HELP and a TYPE line, then its samples. */
export interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: Sample[];
}

/** The families of one round, always in this order; samples in plan order, links row by row. */
export function roundFamilies({ health, probes, seconds }: StatusRound): Family[] {
  const reports = new Map<string, NodeIndex>();
  for (const [node, probe] of probes) if (probe.kind === 'report' && probe.report.ok) reports.set(node, indexReport(probe.report));
  const answered = health.nodes.filter((n) => reports.has(n.node));
  // A series per planned link only: the diagonal and other address families have nothing to measure.
  const links = health.links.filter((l) => l.status !== 'not-expected').map((l) => linkFacts(l, reports.get(l.from)));
  const perNode = (value: (n: NodeHealth) => number): Sample[] => answered.map((n) => ({ labels: { node: n.node }, value: value(n) }));
  const perLink = (value: (l: LinkFacts) => number | undefined): Sample[] =>
    links.flatMap((l) => {
      const v = value(l);
      return v === undefined ? [] : [{ labels: l.labels, value: v }];
    });
  const flag = (b: boolean): number => (b ? 1 : 0);

  const families: Family[] = [
    gauge(
      'rait_mesh_healthy',
      '1 when status calls the mesh healthy (its exit code 0): every node answered, no drift, every planned link up, no deploy running.',
      [{ labels: {}, value: flag(health.healthy) }],
    ),
    gauge(
      'rait_deploy_in_progress',
      '1 when a deploy or down of the fleet held the state lock during the round (links may have been changing).',
      [{ labels: {}, value: flag(health.deployInProgress !== undefined) }],
    ),
    gauge('rait_status_round_duration_seconds', 'How long the status round took to ask every node and analyse the replies.', [
      { labels: {}, value: seconds },
    ]),
    gauge(
      'rait_node_up',
      '1 when the node answered with its status; 0 when it was unreachable or its agent failed (its links count as down).',
      health.nodes.map((n) => ({ labels: { node: n.node }, value: flag(reports.has(n.node)) })),
    ),
    gauge(
      'rait_node_drift',
      "1 when the node's files, managed interfaces or running babeld differ from the plan (a deploy fixes it).",
      perNode((n) => flag(n.drift)),
    ),
    gauge(
      'rait_node_link_errors',
      'Links of the node that the last deploy could not make right (status names each with its reason).',
      perNode((n) => n.linkErrors.length),
    ),
    ...(health.babeld
      ? [
          gauge(
            'rait_babel_routes',
            'Routes babeld has installed on the node.',
            perNode((n) => n.routes ?? 0),
          ),
        ]
      : []),
    gauge(
      'rait_link_up',
      `1 when the link counts as up in the status matrix (the from node's interface towards the to node had a handshake within ${health.handshakeFreshSeconds} s${health.babeld ? ' and has a live babel neighbour' : ''}), else 0; 0 also when the from node did not answer.`,
      perLink((l) => flag(l.health.status === 'up')),
    ),
    gauge(
      'rait_link_handshake_age_seconds',
      "Seconds since the latest WireGuard handshake on the from node's interface towards the to node (no series before the first).",
      perLink((l) => l.health.handshakeAge ?? undefined),
    ),
    counter(
      'rait_link_receive_bytes_total',
      "Bytes received on the from node's interface towards the to node (back to 0 when the interface is made again).",
      perLink((l) => l.state?.rxBytes),
    ),
    counter(
      'rait_link_transmit_bytes_total',
      "Bytes sent on the from node's interface towards the to node (back to 0 when the interface is made again).",
      perLink((l) => l.state?.txBytes),
    ),
    gauge(
      'rait_babel_neighbour_cost',
      'The cost babeld on the from node routes by towards the to node (from rxcost and txcost, plus the rtt penalty); 65535 is unreachable.',
      perLink((l) => l.neighbour?.cost),
    ),
    gauge(
      'rait_babel_neighbour_rtt_seconds',
      'Round-trip time babeld on the from node measured towards the to node.',
      perLink((l) => msToSeconds(l.neighbour?.rtt)),
    ),
  ];
  return families.filter((f) => f.samples.length > 0);
}

interface LinkFacts {
  health: LinkHealth;
  labels: Labels;
  /** The interface as the from node reported it. */
  state?: LinkState;
  neighbour?: BabelNeighbour;
}

/** A node's interfaces and babel neighbours by interface name, so a 100-node round is not N³ lookups. */
interface NodeIndex {
  states: Map<string, LinkState>;
  neighbours: Map<string, BabelNeighbour>;
}

function indexReport(report: StatusReport): NodeIndex {
  const neighbours = new Map<string, BabelNeighbour>();
  // A point-to-point link has one babel neighbour; while babeld still remembers an old address there
  // may be two for a while, and the one it would route by is the cheaper.
  for (const n of report.babel.neighbours) {
    const seen = neighbours.get(n.interface);
    if (!seen || n.cost < seen.cost) neighbours.set(n.interface, n);
  }
  return { states: new Map(report.links.map((l) => [l.name, l])), neighbours };
}

function linkFacts(health: LinkHealth, index: NodeIndex | undefined): LinkFacts {
  const ifname = health.interface ?? '';
  // family tells a dual-stack pair's two links apart at a glance (the interface already does).
  const labels = { from: health.from, to: health.to, interface: ifname, family: health.family ?? '' };
  return { health, labels, state: index?.states.get(ifname), neighbour: index?.neighbours.get(ifname) };
}

const msToSeconds = (ms: number | null | undefined): number | undefined => (ms === null || ms === undefined ? undefined : ms / 1000);

const gauge = (name: string, help: string, samples: Sample[]): Family => ({ name, type: 'gauge', help, samples });
const counter = (name: string, help: string, samples: Sample[]): Family => ({ name, type: 'counter', help, samples });

/** The text format: each family's HELP and TYPE once, then its samples; ends with a newline. */
export function exposition(families: readonly Family[]): string {
  // A link's label set is one object shared by its families: render it once (a 100-node mesh has
  // 9,900 links).
  const rendered = new Map<Labels, string>();
  const labelSet = (labels: Labels): string => {
    let text = rendered.get(labels);
    if (text === undefined) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
      rendered.set(labels, (text = pairs.length === 0 ? '' : `{${pairs.join(',')}}`));
    }
    return text;
  };
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${labelSet(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export const prometheusText = (round: StatusRound): string => exposition(roundFamilies(round));

/** Label values escape backslash, double quote and newline; HELP text backslash and newline. */
export const escapeLabelValue = (v: string): string => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
const escapeHelp = (v: string): string => v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));

/** Go's ParseFloat reads JavaScript's number text, but infinities are spelled +Inf and -Inf. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}
