// known_hosts and ssh_config are read for every node (twice per node for known_hosts): parse each file
// once, and again only when it changes (accept-new appends to known_hosts during a run).
import { statSync } from 'node:fs';

const cache = new Map<string, { stamp: string; value: unknown }>();

/** `parse(text)` of the file at `path`, reusing the last result while size, mtime and inode stay the same. */
export function parsedFile<T>(path: string, read: () => string, parse: (text: string) => T, missing: T): T {
  let stamp: string;
  try {
    const s = statSync(path, { bigint: true });
    stamp = `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw e;
  }
  const hit = cache.get(path);
  if (hit?.stamp === stamp) return hit.value as T;
  const value = parse(read());
  cache.set(path, { stamp, value });
  return value;
}
