// What the last deploy did on each node, kept beside the state file so `deploy --retry-failed` knows
// which nodes to go back to. No secrets: node names, result words, times and redacted reasons.
import { readIfExists, writeAtomic } from '../atomic-file.js';
import { InputError } from '../errors.js';
import type { NodeOutcome } from './outcome.js';

/** A node's latest deploy result; `interrupted` = the run started on it and never recorded an end. */
export type LastResult = NodeOutcome['result'] | 'interrupted';

export interface LastNodeRun {
  result: LastResult;
  /** ISO time the result was recorded. */
  at: string;
  error?: string;
}

/** Per node, the result of the most recent deploy that included it. */
export interface LastRun {
  version: 1;
  nodes: Record<string, LastNodeRun>;
}

const RESULTS: readonly LastResult[] = ['changed', 'unchanged', 'failed', 'unreachable', 'rolled-back', 'skipped', 'interrupted'];
const SUCCEEDED: readonly LastResult[] = ['changed', 'unchanged'];

export const lastRunPath = (statePath: string): string => `${statePath}.last-run.json`;

export const emptyLastRun = (): LastRun => ({ version: 1, nodes: {} });

/** Pure: `last` with `nodes` marked interrupted, written before a deploy so a killed run still shows them. */
export function markStarted(last: LastRun, nodes: string[], at: string): LastRun {
  return merge(
    last,
    nodes.map((node) => [node, { result: 'interrupted', at }]),
  );
}

/** Pure: `last` with the outcomes of a finished deploy; nodes it did not touch keep their entries. */
export function recordOutcomes(last: LastRun, outcomes: NodeOutcome[], at: string): LastRun {
  return merge(
    last,
    outcomes.map((o) => [o.node, { result: o.result, at, ...(o.error === undefined ? {} : { error: o.error }) }]),
  );
}

function merge(last: LastRun, entries: [string, LastNodeRun][]): LastRun {
  return { version: 1, nodes: { ...last.nodes, ...Object.fromEntries(entries) } };
}

/** Pure: the nodes whose latest deploy did not succeed, in the order of `candidates`. */
export function nodesToRetry<N extends { name: string }>(last: LastRun, candidates: N[]): N[] {
  return candidates.filter((n) => {
    const entry = last.nodes[n.name];
    return entry !== undefined && !SUCCEEDED.includes(entry.result);
  });
}

export function formatLastRun(last: LastRun): string {
  return `${JSON.stringify(last, null, 2)}\n`;
}

/** Pure: validates the file's text; anything unexpected is an InputError naming the file and field. */
export function parseLastRun(file: string, text: string): LastRun {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InputError('damaged last-run record (not JSON); delete it to start afresh', { file });
  }
  const bad = (field: string, msg: string): never => {
    throw new InputError(msg, { file, field });
  };
  if (!isObject(doc)) return bad('(root)', 'expected an object');
  if (doc.version !== 1) bad('version', `expected 1, got ${JSON.stringify(doc.version)}`);
  if (!isObject(doc.nodes)) return bad('nodes', 'expected an object');
  const nodes: Record<string, LastNodeRun> = {};
  for (const [name, entry] of Object.entries(doc.nodes)) {
    const field = `nodes.${name}`;
    if (!isObject(entry)) return bad(field, 'expected an object');
    if (!RESULTS.includes(entry.result as LastResult)) bad(`${field}.result`, `expected one of ${RESULTS.join(', ')}`);
    if (typeof entry.at !== 'string') bad(`${field}.at`, 'expected a time');
    if (entry.error !== undefined && typeof entry.error !== 'string') bad(`${field}.error`, 'expected a string');
    nodes[name] = {
      result: entry.result as LastResult,
      at: entry.at as string,
      ...(entry.error === undefined ? {} : { error: entry.error as string }),
    };
  }
  return { version: 1, nodes };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The record at `path`, or undefined when there is none yet. */
export function readLastRun(path: string): LastRun | undefined {
  const text = readIfExists(path, 'last-run record');
  return text === undefined ? undefined : parseLastRun(path, text);
}

/** Atomic and 0600: a killed run leaves the old record or the new one. */
function writeLastRun(path: string, last: LastRun): void {
  writeAtomic(path, formatLastRun(last));
}

/** Of `candidates`, the nodes to retry; no record at all is an InputError (there is nothing to go by). */
export function selectFailed<N extends { name: string }>(path: string, candidates: N[]): N[] {
  const last = readLastRun(path);
  if (!last) throw new InputError(`no previous deploy is recorded (${path}); run deploy first`, { field: '--retry-failed' });
  return nodesToRetry(last, candidates);
}

/** Before a deploy: its nodes count as interrupted until it records how they ended. */
export function recordStart(path: string, nodes: string[]): void {
  writeLastRun(path, markStarted(readLastRun(path) ?? emptyLastRun(), nodes, new Date().toISOString()));
}

export function recordEnd(path: string, outcomes: NodeOutcome[]): void {
  writeLastRun(path, recordOutcomes(readLastRun(path) ?? emptyLastRun(), outcomes, new Date().toISOString()));
}
