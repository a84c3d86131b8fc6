// Node vars that the shipped babeld template writes into babeld.conf: they must be IP prefixes
// (checked when the inventory is read, inventory/vars.ts).
import { ipVersion } from '../ip-version.js';

/** var name -> required IP version (0: either). */
export const ROUTED_VARS = { loopback: 6, loopback4: 4, prefixes: 0 } as const;

/** `address/length`, IPv4 or IPv6 (`version` 0 accepts both); the length is required, as in babeld's filters. */
export function isPrefix(s: string, version: 0 | 4 | 6): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v = ipVersion(m[1]!);
  if (v === 0 || (version !== 0 && v !== version)) return false;
  return Number(m[2]) <= (v === 4 ? 32 : 128);
}
