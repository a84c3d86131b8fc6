// Node vars: free-form data for templates, with two rules because a template may write any of them into
// a config file on the node (babeld.conf is line-based): every string is a single line without control
// characters, and the vars the shipped babeld template announces (loopback, loopback4, prefixes) are IP prefixes.
import { ROUTED_VARS, isPrefix } from '../mesh/routed-vars.js';
import type { YamlReader, Field } from './yaml-reader.js';

const CONTROL = /[\u0000-\u001f\u007f]/;

export function readVars(r: YamlReader, at: Field): Record<string, unknown> {
  for (const [name, f] of r.map(at)) {
    checkSingleLine(r, f, name, f.path);
    checkSingleLine(r, f, r.plain(f), f.path);
    if (name in ROUTED_VARS) checkRouted(r, f, ROUTED_VARS[name as keyof typeof ROUTED_VARS], name === 'prefixes');
  }
  return (r.plain(at) ?? {}) as Record<string, unknown>;
}

/**
 * Every string (keys too) in `value`, the plain form of `at`, is free of newlines and other control
 * characters; and `value` does not contain itself (`&a [*a]`), which no template or config could hold.
 */
function checkSingleLine(r: YamlReader, at: Field, value: unknown, path: string, ancestors: object[] = []): void {
  if (typeof value === 'string') {
    if (CONTROL.test(value)) {
      throw r.error(
        { node: at.node, path },
        `newlines and control characters are not allowed (templates may write vars into config files): ${JSON.stringify(value)}`,
      );
    }
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (ancestors.includes(value)) throw r.error({ node: at.node, path }, 'a value that contains itself (a YAML alias to its own anchor)');
  const inner = [...ancestors, value];
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkSingleLine(r, at, item, `${path}[${i}]`, inner));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    checkSingleLine(r, at, key, `${path}.${key}`);
    checkSingleLine(r, at, item, `${path}.${key}`, inner);
  }
}

/** A routed var: one prefix, or for `prefixes` a list of them; each of IP `version` (0: either). */
function checkRouted(r: YamlReader, at: Field, version: 0 | 4 | 6, list: boolean): void {
  if (r.plain(at) === null) return;
  const items = list ? r.seq(at) : [at];
  const kind = version === 0 ? 'IP prefix' : `IPv${version} prefix`;
  const example = version === 4 ? '10.0.0.1/32' : 'fd00::1/128';
  for (const item of items) r.string(item, (s) => isPrefix(s, version), `${kind} (like ${example})`);
}
