// Interleaved rounds: every case runs once per round, in an order rotated from round to round, so a
// slow spell of the machine (other work, a noisy neighbour) falls on every case alike instead of on
// whichever ran during it. Results are per-metric medians (min–max).
import { mustMeasure, type Cost, type RunOptions } from './measure.js';
import { summarize, type Sample } from './stats.js';

export interface Case {
  key: string;
  argv: readonly string[];
  /** Exit codes that still count as a complete run (status exits 1 for a degraded mesh). */
  ok?: number[];
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** Untimed preparation before each run of this case. */
  before?: () => Promise<void>;
}

export interface CostSample {
  wall: Sample;
  cpu: Sample;
  maxRssKiB: Sample;
  nodes?: Sample;
  machine: Sample;
  /** The control process's CPU plus the nodes': what the run itself cost the machine. */
  total?: Sample;
}

export function summarizeCosts(costs: readonly Cost[]): CostSample {
  const of = (f: (c: Cost) => number) => summarize(costs.map(f));
  const hasNodes = costs.every((c) => c.nodesMs !== undefined);
  return {
    wall: of((c) => c.wallMs),
    cpu: of((c) => c.cpuMs),
    maxRssKiB: of((c) => c.maxRssKiB),
    machine: of((c) => c.machineMs),
    ...(hasNodes ? { nodes: of((c) => c.nodesMs!), total: of((c) => c.cpuMs + c.nodesMs!) } : {}),
  };
}

/** Runs `rounds` rounds of `cases`; `sshdPids` (a lab's) adds the nodes' CPU to every measurement. */
export async function interleaved(
  cases: readonly Case[],
  rounds: number,
  o: Pick<RunOptions, 'sshdPids'> & { log?: (m: string) => void } = {},
): Promise<Map<string, CostSample>> {
  const costs = new Map<string, Cost[]>(cases.map((c) => [c.key, []]));
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, i) => cases[(i + r) % cases.length]!);
    for (const c of order) {
      await c.before?.();
      const run = await mustMeasure(c.argv, { ok: c.ok, stdin: c.stdin, env: c.env, sshdPids: o.sshdPids });
      costs.get(c.key)!.push(run);
    }
    o.log?.(`round ${r + 1}/${rounds} done`);
  }
  return new Map([...costs].map(([key, list]) => [key, summarizeCosts(list)]));
}
