/** Applies host_key_checking to a presented host key: reads known_hosts, and for accept-new appends to it. */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parsedFile } from './file-cache.js';
import type { HostKeyChecking } from '../inventory/types.js';
import { checkHostKey, fingerprint, hostField, keyTypeOf, knownHostsLine, parseKnownHosts, type KnownHostEntry } from './host-keys.js';

export function readKnownHosts(path: string): KnownHostEntry[] {
  return parsedFile(
    path,
    () => readFileSync(path, 'utf8'),
    (text) => parseKnownHosts(text, path),
    [],
  );
}

/** Returns undefined when the key is accepted, else the reason it is refused (for an SshError 'host-key'). */
export function applyHostKeyPolicy(
  policy: HostKeyChecking,
  knownHostsPath: string,
  host: string,
  port: number,
  key: Buffer,
  log: (m: string) => void,
): string | undefined {
  if (policy === 'off') return undefined;
  const name = hostField(host, port);
  const presented = `${keyTypeOf(key)} ${fingerprint(key)}`;
  const verdict = checkHostKey(readKnownHosts(knownHostsPath), host, port, key);
  switch (verdict.status) {
    case 'known':
      return undefined;
    case 'revoked':
      return `host key of ${name} (${presented}) is marked @revoked at ${verdict.entry.file}:${verdict.entry.line}; refusing to connect`;
    case 'changed': {
      const e = verdict.entries[0];
      return (
        `HOST KEY CHANGED for ${name}: it presented ${presented}, but ${e.file}:${e.line} has ` +
        `${e.keyType} ${fingerprint(e.key)}. This may be an attack; if the change is expected, fix that line`
      );
    }
    case 'unknown':
      if (policy === 'strict') {
        return (
          `host key of ${name} is not known (${presented}). Verify that fingerprint, then add this line to ` +
          `${knownHostsPath}: ${knownHostsLine(host, port, key)} (or set host_key_checking: accept-new)`
        );
      }
      recordHostKey(knownHostsPath, knownHostsLine(host, port, key));
      log(`recorded host key of ${name} (${presented}) in ${knownHostsPath}`);
      return undefined;
  }
}

/** Appends one line with O_APPEND (atomic for a short line), creating the file 0600 and its directory 0700. */
function recordHostKey(path: string, line: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const text = readFileSync(path, 'utf8');
    if (text !== '' && !text.endsWith('\n')) prefix = '\n';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  appendFileSync(path, `${prefix}${line}\n`, { mode: 0o600 });
}
