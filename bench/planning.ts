// Planning a 1,000-node mesh (bench/plan.ts), one process per run: time and peak RSS of each phase.
import { join } from 'node:path';
import { mustMeasure } from './measure.js';
import { summarize, type Sample } from './stats.js';

export const PLAN_NODES = 1000;

export interface PlanResult {
  /** planMesh and every node's links (peers.conf included): what every command does. */
  planMs: Sample;
  planRssMiB: Sample;
  /** Every node's files, babeld.conf through liquidjs: what a deploy of the whole fleet adds. */
  renderMs: Sample;
  /** Peak of the whole process, planning included. */
  renderRssMiB: Sample;
  /** Every node's key pair (an X25519 multiplication each), which a deploy of the whole fleet adds too. */
  checkMs: Sample;
  /** status once every node answered: analysing a healthy mesh's replies, and printing the result. */
  analyseMs: Sample;
  printMs: Sample;
}

export async function benchPlanning(node: string, benchDir: string, runs: number): Promise<PlanResult> {
  const samples = {
    planMs: [] as number[],
    planRssMiB: [] as number[],
    renderMs: [] as number[],
    renderRssMiB: [] as number[],
    checkMs: [] as number[],
    analyseMs: [] as number[],
    printMs: [] as number[],
  };
  const patterns: [keyof typeof samples, RegExp][] = [
    ['planMs', /^planning \(.*?\)\s+(\d+) ms$/m],
    ['planRssMiB', /^peak RSS after planning\s+(\d+) MiB$/m],
    ['renderMs', /^rendering every node's files\s+(\d+) ms$/m],
    ['renderRssMiB', /^peak RSS after rendering \(whole process\)\s+(\d+) MiB$/m],
    ['checkMs', /^checking every node's key pair\s+(\d+) ms$/m],
    ['analyseMs', /^status: analysing every node's reply\s+(\d+) ms$/m],
    ['printMs', /^status: printing it \(200 columns\)\s+(\d+) ms$/m],
  ];
  for (let i = 0; i < runs; i++) {
    const p = await mustMeasure([node, join(benchDir, 'plan.js')], { env: { NODES: String(PLAN_NODES) } });
    for (const [key, re] of patterns) {
      const m = re.exec(p.stdout);
      if (!m) throw new Error(`unexpected output of bench/plan.js (no ${key}):\n${p.stdout}`);
      samples[key].push(Number(m[1]));
    }
  }
  return {
    planMs: summarize(samples.planMs),
    planRssMiB: summarize(samples.planRssMiB),
    renderMs: summarize(samples.renderMs),
    renderRssMiB: summarize(samples.renderRssMiB),
    checkMs: summarize(samples.checkMs),
    analyseMs: summarize(samples.analyseMs),
    printMs: summarize(samples.printMs),
  };
}
