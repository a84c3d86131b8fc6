/**
 * OpenSSH known_hosts, pure: parse, match a host (plain patterns, `[host]:port`, hashed `|1|` entries),
 * compare keys by type + blob, and fingerprint them the way `ssh-keygen -lf` prints them.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: 'revoked' | null;
  /** The host field as written: comma-separated patterns, or one hashed `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  /** The host is known with other keys; `entries` are the lines to check, same key type first. */
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** Parses known_hosts text; malformed lines and @cert-authority lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0].startsWith('@')) {
      if (fields[0] !== '@revoked') return; // @cert-authority (and unknown markers): not supported, ignored
      marker = 'revoked';
      fields.shift();
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return;
    const key = Buffer.from(base64, 'base64');
    if (keyTypeOf(key) !== keyType) return;
    entries.push({ file, line: index + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostField(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether an entry's host field names this host and port. */
export function hostMatches(hosts: string, host: string, port: number): boolean {
  const name = hostField(host, port).toLowerCase();
  let matched = false;
  for (const { negated, matches } of patternsOf(hosts)) {
    if (!matches(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

interface Pattern {
  negated: boolean;
  matches: (name: string) => boolean;
}

/**
 * A host field's patterns, made once per distinct field: every node's connection checks its host
 * against every line of known_hosts, N² checks for a fleet of N; building a RegExp (or decoding a
 * hashed line's salt) for each cost 2 ms (6 ms hashed) a node at 1,000 nodes. A pattern without
 * wildcards is a plain comparison.
 */
const patterns = new Map<string, Pattern[]>();
function patternsOf(hosts: string): Pattern[] {
  let list = patterns.get(hosts);
  if (!list && hosts.startsWith('|1|')) {
    list = [{ negated: false, matches: hashedMatcher(hosts) }];
    patterns.set(hosts, list);
  }
  if (!list) {
    list = hosts
      .toLowerCase()
      .split(',')
      .map((p) => {
        const negated = p.startsWith('!');
        const glob = negated ? p.slice(1) : p;
        if (!/[*?]/.test(glob)) return { negated, matches: (name: string) => name === glob };
        const re = globToRegExp(glob);
        return { negated, matches: (name: string) => re.test(name) };
      });
    patterns.set(hosts, list);
  }
  return list;
}

function hashedMatcher(hosts: string): (name: string) => boolean {
  const [, , salt, hash] = hosts.split('|');
  if (!salt || !hash) return () => false;
  const key = Buffer.from(salt, 'base64');
  const expected = Buffer.from(hash, 'base64');
  return (name) => {
    const actual = createHmac('sha1', key).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  };
}

/** Per parsed known_hosts (a new array when the file changes) and host name: the entries naming it. */
const entriesByName = new WeakMap<readonly KnownHostEntry[], Map<string, KnownHostEntry[]>>();

/** The entries whose host field names host:port, in file order; found once per file and host (a connection asks twice). */
export function entriesFor(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  let byName = entriesByName.get(entries);
  if (!byName) entriesByName.set(entries, (byName = new Map()));
  const name = hostField(host, port).toLowerCase();
  let found = byName.get(name);
  if (!found) byName.set(name, (found = entries.filter((e) => hostMatches(e.hosts, host, port))));
  return found;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Checks the key a host presented against the parsed entries. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const forHost = entriesFor(entries, host, port);
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === null);
  const known = plain.find((e) => e.key.equals(key));
  if (known) return { status: 'known', entry: known };
  if (plain.length === 0) return { status: 'unknown' };
  const type = keyTypeOf(key);
  return { status: 'changed', entries: [...plain].sort((a, b) => Number(b.keyType === type) - Number(a.keyType === type)) };
}

/** Key types known for a host, so the handshake can ask for those first (as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = entriesFor(entries, host, port)
    .filter((e) => e.marker === null)
    .map((e) => e.keyType);
  return [...new Set(types)];
}

const ALL_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Host key algorithms to offer, those matching known key types first. */
export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const preferred = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const first = ALL_HOST_KEY_ALGORITHMS.filter((a) => preferred.includes(a));
  return [...first, ...ALL_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/** The key type named at the start of an SSH public key blob ('' when the blob is malformed). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return '';
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The line accept-new appends for a newly seen host key. */
export function knownHostsLine(host: string, port: number, key: Buffer): string {
  return `${hostField(host, port)} ${keyTypeOf(key)} ${key.toString('base64')}`;
}
