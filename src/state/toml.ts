// Minimal TOML writing for the files we own: predictable layout, and fast for thousand-peer files.

/** A TOML basic string. JSON's escapes (\" \\ \n \uXXXX ...) are all valid TOML escapes. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** A key, bare when TOML allows it. */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}
