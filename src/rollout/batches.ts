// --serial and --max-fail, with Ansible's meaning (serial, max_fail_percentage). Pure.
import { InputError } from '../errors.js';

/** A number of nodes, or a percentage of them. */
export type Amount = { nodes: number } | { percent: number };

/** `N` or `P%`; `min` is the smallest N or P accepted. */
export function parseAmount(text: string, field: string, min: number): Amount {
  const m = /^([0-9]{1,6})(%?)$/.exec(text.trim());
  const value = m ? Number(m[1]) : NaN;
  const percent = m?.[2] === '%';
  if (!m || value < min || (percent && value > 100)) {
    const range = percent ? `${min}%–100%` : `${min} or more`;
    throw new InputError(`expected a number of nodes or a percentage of them (${range}), got "${text}"`, { field });
  }
  return percent ? { percent: value } : { nodes: value };
}

/** `--serial 1,25%,100%`: the size of each batch; the last one repeats until every node is done. */
export function parseSerial(text: string): Amount[] {
  const items = text.split(',');
  if (items.some((i) => i.trim() === '')) {
    throw new InputError(`expected batch sizes separated by commas, like 1,25%,100%, got "${text}"`, { field: '--serial' });
  }
  return items.map((i) => parseAmount(i, '--serial', 1));
}

export const parseMaxFail = (text: string): Amount => parseAmount(text, '--max-fail', 0);

export const formatAmount = (a: Amount): string => ('percent' in a ? `${a.percent}%` : String(a.nodes));

/**
 * `items` in batches of the sizes given. A percentage is of all the items, rounded down but at least
 * one (Ansible's pct_to_int); once the sizes run out the last one repeats.
 */
export function batchesOf<T>(items: readonly T[], sizes: readonly Amount[]): T[][] {
  if (sizes.length === 0) return items.length ? [[...items]] : [];
  const batches: T[][] = [];
  let next = 0;
  for (let i = 0; next < items.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)]!;
    const n = 'percent' in size ? Math.max(1, Math.floor((size.percent * items.length) / 100)) : size.nodes;
    batches.push(items.slice(next, next + n));
    next += n;
  }
  return batches;
}

/** Ansible's rule: the rollout stops when more than the allowed share of a batch failed. */
export function tooManyFailed(failed: number, batchSize: number, max: Amount): boolean {
  return 'percent' in max ? failed * 100 > max.percent * batchSize : failed > max.nodes;
}
