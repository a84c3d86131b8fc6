// Why a planned link is not up, as data first (problems.ts puts it into sentences with fixes). Pure.

export type Fault =
  | { kind: 'missing' }
  | { kind: 'wrong-peer-key'; actual: string; planned: string }
  | { kind: 'wrong-listen-port'; actual: number; planned: number }
  | { kind: 'down' }
  /** age: seconds since the latest handshake; null when there was none. */
  | { kind: 'no-handshake'; age: number | null }
  | { kind: 'no-neighbour'; babeldRunning: boolean };

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
