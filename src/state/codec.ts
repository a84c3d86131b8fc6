// The state file format (TOML): `version = 1` and one `[nodes.<name>]` table per node; a dual-stack
// node has `send_port` (ip4) and `send_port_ip6`, every other node `send_port` alone, as always. Pure.
import type * as Toml from '@iarna/toml';
import { requireCjs } from '../cjs.js';
import { InputError } from '../errors.js';
import { isWireGuardKey, publicKeyOf } from './keys.js';
import { tomlKey, tomlString } from './toml.js';
import { signingPublicKeyOf } from './signing.js';
import type { FleetState, NodeKeys, Signing } from './types.js';

type JsonMap = Toml.JsonMap;

const STATE_VERSION = 1;
const NODE_FIELDS = ['private_key', 'public_key', 'send_port', 'send_port_ip6'] as const;
const SIGNING_FIELDS = ['private_key', 'public_key', 'serial', 'next_private_key', 'next_public_key', 'next_named'] as const;

export function formatState(state: FleetState): string {
  const tables = Object.entries(state.nodes).map(([name, k]) =>
    [
      `[nodes.${tomlKey(name)}]`,
      `private_key = ${tomlString(k.privateKey)}`,
      `public_key = ${tomlString(k.publicKey)}`,
      `send_port = ${k.sendPort}`,
      ...(k.sendPortIp6 === undefined ? [] : [`send_port_ip6 = ${k.sendPortIp6}`]),
    ].join('\n'),
  );
  return (
    [
      '# rait-fleet state: WireGuard keys and SendPorts. SECRET - keep mode 0600, do not edit by hand.',
      `version = ${STATE_VERSION}`,
      ...tables,
      ...(state.signing ? [signingTable(state.signing)] : []),
    ].join('\n\n') + '\n'
  );
}

/** Pull mode's signing keys and publication record, after the nodes. */
function signingTable(s: Signing): string {
  const lines = [
    '[signing]',
    `private_key = ${tomlString(s.current.privateKey)}`,
    `public_key = ${tomlString(s.current.publicKey)}`,
    `serial = ${s.serial}`,
  ];
  if (s.next) {
    lines.push(
      `next_private_key = ${tomlString(s.next.privateKey)}`,
      `next_public_key = ${tomlString(s.next.publicKey)}`,
      `next_named = ${s.nextNamed}`,
    );
  }
  return lines.join('\n');
}

/** Parses and validates state text; errors name `file` and the field. */
export function parseState(file: string, text: string): FleetState {
  let doc: JsonMap;
  try {
    doc = (requireCjs('@iarna/toml') as typeof Toml).parse(text) as JsonMap;
  } catch (err) {
    const e = err as Error & { line?: number; col?: number };
    const where = { file, field: 'TOML syntax', ...(e.line !== undefined && { line: e.line + 1, column: (e.col ?? 0) + 1 }) };
    throw new InputError(`damaged state file: ${e.message.split(' at row ')[0]}`, where);
  }
  const fail = (field: string, message: string): never => {
    throw new InputError(`damaged state file: ${message}`, { file, line: lineOf(text, field), field });
  };
  for (const key of Object.keys(doc)) if (key !== 'version' && key !== 'nodes' && key !== 'signing') fail(key, 'unknown key');
  if (doc.version !== STATE_VERSION) fail('version', `expected ${STATE_VERSION}, got ${JSON.stringify(doc.version ?? null)}`);
  const tables = doc.nodes ?? {};
  if (typeof tables !== 'object' || Array.isArray(tables)) fail('nodes', 'expected a table of nodes');
  const nodes: Record<string, NodeKeys> = {};
  const portOwner = new Map<number, string>();
  const keyOwner = new Map<string, string>();
  for (const [name, value] of Object.entries(tables as JsonMap)) {
    const field = `nodes.${name}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'expected a table');
    const t = value as JsonMap;
    for (const key of Object.keys(t)) {
      if (!(NODE_FIELDS as readonly string[]).includes(key)) fail(`${field}.${key}`, 'unknown key');
    }
    if (!isWireGuardKey(t.private_key)) fail(`${field}.private_key`, 'expected a WireGuard key (32 bytes, base64)');
    if (!isWireGuardKey(t.public_key)) fail(`${field}.public_key`, 'expected a WireGuard key (32 bytes, base64)');
    const privateKey = t.private_key as string;
    const publicKey = t.public_key as string;
    const twin = keyOwner.get(publicKey);
    if (twin) fail(`${field}.public_key`, `same key as node "${twin}"`);
    keyOwner.set(publicKey, name);
    const port = (key: 'send_port' | 'send_port_ip6'): number => {
      const value = t[key];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535)
        fail(`${field}.${key}`, 'expected a port number');
      const other = portOwner.get(value as number);
      if (other) fail(`${field}.${key}`, `${String(value)} is also a SendPort of node "${other}"`);
      portOwner.set(value as number, name);
      return value as number;
    };
    const sendPort = port('send_port');
    nodes[name] = { privateKey, publicKey, sendPort, ...(t.send_port_ip6 !== undefined && { sendPortIp6: port('send_port_ip6') }) };
  }
  return doc.signing === undefined ? { nodes } : { nodes, signing: parseSigning(doc.signing, fail) };
}

function parseSigning(value: unknown, fail: (field: string, message: string) => never): Signing {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('signing', 'expected a table');
  const t = value as JsonMap;
  for (const key of Object.keys(t)) if (!(SIGNING_FIELDS as readonly string[]).includes(key)) fail(`signing.${key}`, 'unknown key');
  const pair = (priv: string, pub: string) => {
    const privateKey = t[priv];
    if (typeof privateKey !== 'string' || signingPublicKeyOf(privateKey) === undefined) {
      fail(`signing.${priv}`, 'expected an Ed25519 private key (32 bytes, base64)');
    }
    if (t[pub] !== signingPublicKeyOf(privateKey as string)) fail(`signing.${pub}`, `does not match ${priv}`);
    return { privateKey: privateKey as string, publicKey: t[pub] as string };
  };
  const count = (field: string): number => {
    const n = t[field] ?? 0;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`signing.${field}`, 'expected a whole number');
    return n as number;
  };
  const signing: Signing = { current: pair('private_key', 'public_key'), serial: count('serial'), nextNamed: 0 };
  if (t.next_private_key === undefined && t.next_public_key === undefined) return signing;
  return { ...signing, next: pair('next_private_key', 'next_public_key'), nextNamed: count('next_named') };
}

/**
 * Checks that each of `names` has the public key of its private key, as a hand edit could break. Each
 * check is an X25519 multiplication (~0.1 ms), made only for the nodes whose private key a command uses
 * (their rait.conf is rendered), not for the whole fleet on every run.
 * `text` is the state file's text as read (none: keys made in this run, right by construction).
 */
export function checkKeyPairs(file: string, text: string | undefined, state: FleetState, names: Iterable<string>): void {
  for (const name of names) {
    const keys = state.nodes[name];
    if (!keys || publicKeyOf(keys.privateKey) === keys.publicKey) continue;
    const field = `nodes.${name}.public_key`;
    throw new InputError('damaged state file: does not match private_key', {
      file,
      line: text === undefined ? undefined : lineOf(text, field),
      field,
    });
  }
}

/**
 * The line of `field` (`version`, `nodes.<name>` or `nodes.<name>.<key>`) in state text laid out as
 * formatState writes it, for error messages; undefined when it cannot be found.
 */
export function lineOf(text: string, field: string): number | undefined {
  const lines = text.split('\n');
  const find = (table: string | undefined, key: string | undefined): number | undefined => {
    let current: string | undefined;
    for (let i = 0; i < lines.length; i++) {
      const header = /^\s*\[\s*nodes\.(.+?)\s*\]\s*(?:#.*)?$/.exec(lines[i]!);
      if (header) {
        current = unquoteKey(header[1]!);
        if (current === table && key === undefined) return i + 1;
      } else if (current === table && key !== undefined && lines[i]!.split('=')[0]!.trim() === key) {
        return i + 1;
      }
    }
    return undefined;
  };
  if (field.startsWith('signing.')) return lineIn(lines, '[signing]', field.slice('signing.'.length));
  if (!field.startsWith('nodes.')) return find(undefined, field);
  // Node names may hold dots: try "<name>.<key>" first, then the whole rest as a name.
  const rest = field.slice('nodes.'.length);
  const dot = rest.lastIndexOf('.');
  return (
    (dot > 0 ? (find(rest.slice(0, dot), rest.slice(dot + 1)) ?? find(rest.slice(0, dot), undefined)) : undefined) ?? find(rest, undefined)
  );
}

/** The line of `key` in the table headed `header`, else of the header itself. */
function lineIn(lines: string[], header: string, key: string): number | undefined {
  const start = lines.findIndex((l) => l.trim() === header);
  if (start < 0) return undefined;
  for (let i = start + 1; i < lines.length && !lines[i]!.trim().startsWith('['); i++) {
    if (lines[i]!.split('=')[0]!.trim() === key) return i + 1;
  }
  return start + 1;
}

function unquoteKey(k: string): string {
  try {
    return k.startsWith('"') ? (JSON.parse(k) as string) : k;
  } catch {
    return k;
  }
}
