// Reads typed values out of a parsed YAML document; every error carries file:line:column and the field path.
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Node as YamlNode, Scalar } from 'yaml';
import { requireCjs } from '../cjs.js';
import { InputError } from '../errors.js';
import { didYouMean } from './suggest.js';

const { LineCounter: LineCounterClass, isAlias, isMap, isScalar, isSeq, parseDocument } = requireCjs('yaml') as typeof Yaml;

/** A value in the document with its field path (e.g. `nodes.hk1.address_family`). */
export interface Field {
  node: YamlNode | null;
  path: string;
}

/** `read` of the entry `key`, or `fallback` when the mapping lacks it. */
export function entryOr<T>(entries: Map<string, Field>, key: string, read: (f: Field) => T, fallback: T): T {
  const f = entries.get(key);
  return f ? read(f) : fallback;
}

export class YamlReader {
  readonly root: Field;
  private readonly lines: LineCounter;
  private readonly doc: Document;

  constructor(
    readonly file: string,
    text: string,
  ) {
    const lineCounter = new LineCounterClass();
    this.lines = lineCounter;
    // Duplicate keys are detected by map() so that the error can name the field.
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
    this.doc = doc;
    const [first] = [...doc.errors, ...doc.warnings];
    if (first) {
      const pos = lineCounter.linePos(first.pos[0]);
      throw new InputError(first.message.split('\n')[0]!, { file, line: pos.line, column: pos.col, field: 'YAML syntax' });
    }
    this.root = { node: (doc.contents as YamlNode | null) ?? null, path: '' };
  }

  error(at: Field, message: string): InputError {
    const offset = at.node?.range?.[0];
    const pos = offset === undefined ? { line: 1, col: 1 } : this.lines.linePos(offset);
    return new InputError(message, { file: this.file, line: pos.line, column: pos.col, field: at.path || '(top level)' });
  }

  /**
   * The entries of a mapping. With `allowed`, other keys are errors (with a "did you mean").
   * A missing or null value reads as an empty mapping.
   */
  map(field: Field, allowed?: readonly string[], duplicate = 'duplicate key'): Map<string, Field> {
    const at = this.deref(field);
    const entries = new Map<string, Field>();
    if (isNullish(at.node)) return entries;
    if (!isMap(at.node)) throw this.error(at, 'expected a mapping');
    for (const pair of at.node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyField = { node: keyNode, path: at.path };
      if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
        throw this.error(keyField, 'keys must be plain strings');
      }
      const key = String(keyNode.value);
      const path = at.path ? `${at.path}.${key}` : key;
      if (entries.has(key)) throw this.error({ node: keyNode, path }, `${duplicate} "${key}"`);
      if (allowed && !allowed.includes(key)) {
        throw this.error({ node: keyNode, path }, `unknown key "${key}"${didYouMean(key, allowed)}`);
      }
      entries.set(key, { node: (pair.value as YamlNode | null) ?? null, path });
    }
    return entries;
  }

  /** The value is a mapping (aliases followed): for fields that take a value or a mapping. */
  isMapping(field: Field): boolean {
    return isMap(this.deref(field).node);
  }

  /** The value is a list (aliases followed): for fields that take a value or a list. */
  isList(field: Field): boolean {
    return isSeq(this.deref(field).node);
  }

  seq(field: Field): Field[] {
    const at = this.deref(field);
    if (!isSeq(at.node)) throw this.error(at, 'expected a list');
    return at.node.items.map((item, i) => ({ node: item as YamlNode, path: `${at.path}[${i}]` }));
  }

  string(at: Field, valid?: (s: string) => boolean, what = 'value'): string {
    const value = this.scalar(at);
    if (typeof value !== 'string') throw this.error(at, `expected a string, got ${describe(value)}`);
    if (valid && !valid(value)) throw this.error(at, `invalid ${what}: ${JSON.stringify(value)}`);
    return value;
  }

  integer(at: Field, min: number, max: number): number {
    const value = this.scalar(at);
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw this.error(at, `expected an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) throw this.error(at, `${value} is outside ${min}..${max}`);
    return value;
  }

  boolean(at: Field): boolean {
    const value = this.scalar(at);
    if (typeof value !== 'boolean') throw this.error(at, `expected true or false, got ${describe(value)}`);
    return value;
  }

  oneOf<T extends string>(at: Field, choices: readonly T[]): T {
    const value = this.string(at);
    if (!(choices as readonly string[]).includes(value)) {
      throw this.error(at, `must be one of ${choices.join(', ')}, got "${value}"${didYouMean(value, choices)}`);
    }
    return value as T;
  }

  /** The plain JavaScript value (for free-form data such as vars). */
  plain(field: Field): unknown {
    const at = this.deref(field);
    try {
      return at.node ? at.node.toJS(this.doc, { maxAliasCount: 100 }) : null;
    } catch (err) {
      // yaml refuses alias bombs ("billion laughs") here.
      throw this.error(at, (err as Error).message);
    }
  }

  /** Follows a YAML alias (`*name`) to its anchored node; errors still point at the alias. */
  private deref(at: Field): Field {
    if (!isAlias(at.node)) return at;
    const target = at.node.resolve(this.doc);
    if (!target) throw this.error(at, `unknown alias *${at.node.source}`);
    return { node: target as YamlNode, path: at.path };
  }

  private scalar(field: Field): unknown {
    const at = this.deref(field);
    if (!isScalar(at.node)) throw this.error(at, `expected a single value, got ${at.node ? 'a collection' : 'nothing'}`);
    return (at.node as Scalar).value;
  }
}

function isNullish(node: YamlNode | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

function describe(value: unknown): string {
  return value === null ? 'nothing' : `${typeof value} ${JSON.stringify(value)}`;
}
