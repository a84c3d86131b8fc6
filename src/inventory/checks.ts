// Predicates for values that end up in shells, config files or interface names on the nodes.
import { ipVersion } from '../ip-version.js';

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A DNS name or an IPv4/IPv6 address: nothing a shell or a config file could misread. */
export function isHostOrIp(s: string): boolean {
  if (ipVersion(s) !== 0) return true;
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => DNS_LABEL.test(label));
}

/**
 * A WireGuard endpoint host: as isHostOrIp, without an IPv6 zone (`%eth0` names an interface of one
 * machine only) and without a final dot (RAIT's hostname check drops such a peer without a word).
 */
export function isEndpointHost(s: string): boolean {
  return isHostOrIp(s) && !s.includes('%') && !s.endsWith('.');
}

/** `[user@]host[:port]`, host a name, an IPv4 address or a bracketed IPv6 address. */
export function isJumpSpec(s: string): boolean {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return false;
  const [, user, host, port] = m;
  if (user !== undefined && !isUserName(user)) return false;
  if (port !== undefined && !isPort(Number(port))) return false;
  return host!.startsWith('[') ? ipVersion(host!.slice(1, -1)) === 6 : isHostOrIp(host!) && ipVersion(host!) !== 6;
}

/**
 * The URL nodes pull their registry from: http or https, a host (name, IPv4 or [IPv6]), an optional
 * port and a path of unreserved characters — safe unquoted in the agent's files and commands, with
 * nothing (user info, query, fragment) a fetcher could read otherwise. Plain http is allowed: the
 * signature, not TLS, is what a node trusts.
 */
export function isPullUrl(s: string): boolean {
  const m = /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/[A-Za-z0-9._~+/-]*)?$/.exec(s);
  if (!m) return false;
  const [, host, port] = m;
  if (port !== undefined && !isPort(Number(port))) return false;
  return host!.startsWith('[') ? ipVersion(host!.slice(1, -1)) === 6 : isEndpointHost(host!) && !host!.includes(':');
}

export function isUserName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/.test(s);
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** An absolute path made of safe characters only (it lands in shell commands on the nodes). */
export function isSafeAbsolutePath(s: string): boolean {
  return /^(\/[A-Za-z0-9._+-]+)+\/?$/.test(s) && !s.split('/').some((part) => part === '..' || part === '.');
}

/** Node and group names: safe in logs, TOML keys and templates. */
export function isName(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s);
}

/** netns or VRF names (a VRF is a link, so at most 15 bytes). */
export function isNamespaceName(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(s);
}

/** Interface prefix: safe unquoted in a shell and in `ip link` names. */
export function isInterfacePrefix(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_-]*$/.test(s);
}

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
