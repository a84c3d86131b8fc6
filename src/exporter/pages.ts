// What `rait-fleet exporter` answers: /metrics from the last status round, a small page at /, 404
// elsewhere. Scrapes never wait for a round (one round asks every node over SSH). Pure.
import { exposition, prometheusText, type Family } from '../status/prometheus.js';
import type { StatusRound } from '../status/types.js';

/** What the exporter knows between rounds; the round loop updates it, requests only read it. */
export interface ExporterState {
  /** When the exporter started (ms since the epoch). */
  startedAt: number;
  intervalSeconds: number;
  /** The last round that completed, and when it ended (ms since the epoch). */
  last?: { round: StatusRound; endedAt: number };
  /** Rounds that completed, and rounds that could not run (e.g. an inventory edited into an error). */
  rounds: { ok: number; error: number };
  /** Why the last round that could not run failed. */
  lastError?: string;
}

export interface Page {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The text format's content type; Prometheus asks for it by this version. */
export const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function respond(method: string | undefined, url: string | undefined, state: ExporterState, now: number): Page {
  const path = new URL(url ?? '/', 'http://exporter').pathname;
  if (path !== '/metrics' && path !== '/') return text(404, `not found: try /metrics\n`);
  if (method !== 'GET' && method !== 'HEAD') return { ...text(405, 'only GET and HEAD\n'), headers: { ...TEXT, allow: 'GET, HEAD' } };
  if (path === '/') return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: indexPage(state, now) };
  return { status: 200, headers: { 'content-type': METRICS_TYPE }, body: metrics(state, now) };
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };
const text = (status: number, body: string): Page => ({ status, headers: TEXT, body });

export function metrics(state: ExporterState, now: number): string {
  return `${state.last ? roundText(state.last.round) : ''}${exposition(exporterFamilies(state, now))}`;
}

// Made once per round, at its first scrape: a 100-node round is 5 MB of text and tens of ms of CPU,
// and Prometheus may scrape several times per round.
const texts = new WeakMap<StatusRound, string>();
function roundText(round: StatusRound): string {
  let text = texts.get(round);
  if (text === undefined) texts.set(round, (text = prometheusText(round)));
  return text;
}

/** The exporter's own series: how old the data is, and how its rounds went. */
function exporterFamilies(state: ExporterState, now: number): Family[] {
  return [
    {
      name: 'rait_status_round_age_seconds',
      type: 'gauge',
      help: 'Seconds since the last status round ended (before the first one: since the exporter started); it grows while rounds fail or hang.',
      samples: [{ labels: {}, value: roundAgeSeconds(state, now) }],
    },
    {
      name: 'rait_status_rounds_total',
      type: 'counter',
      help: 'Status rounds the exporter ran: ok when the nodes were asked (whatever they said), error when the round could not run (its reason is logged).',
      samples: [
        { labels: { result: 'ok' }, value: state.rounds.ok },
        { labels: { result: 'error' }, value: state.rounds.error },
      ],
    },
  ];
}

const roundAgeSeconds = (state: ExporterState, now: number): number => Math.max(0, now - (state.last?.endedAt ?? state.startedAt)) / 1000;

function indexPage(state: ExporterState, now: number): string {
  const age = Math.round(roundAgeSeconds(state, now));
  const last = state.last
    ? `The last status round ended ${age} s ago: ${state.last.round.health.nodes.length} nodes, ${state.last.round.health.healthy ? 'healthy' : 'degraded'}.`
    : `No status round has ended yet (started ${age} s ago).`;
  const error = state.lastError === undefined ? '' : `\n<p>The last round that failed: ${escapeHtml(state.lastError)}</p>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>rait-fleet exporter</title></head>
<body>
<h1>rait-fleet exporter</h1>
<p><a href="/metrics">/metrics</a>: the mesh by node names, from a status round every ${state.intervalSeconds} s.</p>
<p>${last}</p>${error}
</body></html>
`;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
