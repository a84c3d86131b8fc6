// Node vars that the shipped babeld template writes into babeld.conf: they must be IP prefixes.
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import type { Node } from '../inventory/types.js';

/** var name -> required IP version (0: either). */
export const ROUTED_VARS = { loopback: 6, loopback4: 4, prefixes: 0 } as const;

/** Throws an InputError naming the node and var unless every routed var is a valid prefix. */
export function checkRoutedVars(node: Node, file: string): void {
  for (const [name, version] of Object.entries(ROUTED_VARS)) {
    const value = node.vars[name];
    if (value === undefined || value === null) continue;
    const field = `nodes.${node.name}.vars.${name}`;
    const items = name === 'prefixes' ? value : [value];
    if (!Array.isArray(items)) throw new InputError('expected a list of IP prefixes', { file, field });
    items.forEach((item, i) => {
      const at = name === 'prefixes' ? `${field}[${i}]` : field;
      if (typeof item !== 'string' || !isPrefix(item, version)) {
        const kind = version === 0 ? 'an IP prefix' : `an IPv${version} prefix`;
        throw new InputError(`expected ${kind} like ${version === 4 ? '10.0.0.1/32' : 'fd00::1/128'}, got ${JSON.stringify(item)}`, { file, field: at });
      }
    });
  }
}

/** `address` or `address/length`, IPv4 or IPv6 (`version` 0 accepts both). */
export function isPrefix(s: string, version: 0 | 4 | 6): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(s);
  if (!m) return false;
  const v = isIP(m[1]!);
  if (v === 0 || (version !== 0 && v !== version)) return false;
  return m[2] === undefined || Number(m[2]) <= (v === 4 ? 32 : 128);
}
