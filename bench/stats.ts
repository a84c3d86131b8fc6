// Summaries of repeated timings and the report the benchmark prints and writes. Pure.

export interface Sample {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Sample {
  if (values.length === 0) throw new Error('no measurements to summarize');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** "1.23 s (1.10 s–1.40 s)": median (min–max); milliseconds below a second. */
export function formatSample(s: Sample): string {
  return `${duration(s.median)} (${duration(s.min)}–${duration(s.max)})`;
}

export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A ratio of medians with its target, e.g. "0.93 (target ≤ 1.5) ok". */
export interface Ratio {
  name: string;
  value: number;
  /** Upper bound from issue 7, when there is one. */
  target?: number;
}

export function formatRatio(r: Ratio): string {
  const value = r.value.toFixed(r.value < 0.1 ? 3 : 2);
  if (r.target === undefined) return value;
  return `${value} (target ≤ ${r.target}: ${r.value <= r.target ? 'met' : 'missed'})`;
}

/** A Markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
