// Why a planned link is not up, as data first (problems.ts puts it into sentences with fixes). Pure.
import type { Fault, FaultKind, LinkStatus } from './types.js';

/**
 * Faults of the interface itself, which deploy fixes; the others (no handshake, no babel neighbour)
 * are the tunnel not carrying traffic, which a broken far end also causes.
 */
export const isConfigFault = (kind: FaultKind): boolean => kind !== 'no-handshake' && kind !== 'no-neighbour';

/**
 * How broken one end of a pair is: 0 up, 1 configured as planned but not carrying the mesh,
 * 2 missing or misconfigured; undefined when nothing is known or no link is planned. Of a pair
 * whose ends differ, the lower end is the one that works and the other is at fault (one-sided).
 */
export function endRank(status: LinkStatus, fault: FaultKind | undefined): 0 | 1 | 2 | undefined {
  if (status === 'up') return 0;
  if (fault === undefined) return undefined;
  return isConfigFault(fault) ? 2 : 1;
}

/** Short reason for the link matrix and --json (the problem list adds where and what to do). */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'missing':
      return 'interface missing';
    case 'wrong-peer-key':
      return `peer key ${shortKey(fault.actual)} differs from the plan's ${shortKey(fault.planned)}`;
    case 'wrong-listen-port':
      return `listen port ${fault.actual} differs from the plan's ${fault.planned}`;
    case 'down':
      return 'interface down';
    case 'no-handshake':
      return fault.age === null ? 'no handshake yet' : `no handshake for ${formatAge(fault.age)}`;
    case 'no-neighbour':
      return fault.babeldRunning ? 'no babel neighbour' : 'babeld not running';
    case 'failed':
      return fault.reason;
  }
}

/** Public keys are not secret, but 44 characters drown a sentence; 8 tell two keys apart. */
const shortKey = (key: string): string => `${key.slice(0, 8)}…`;

export function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
