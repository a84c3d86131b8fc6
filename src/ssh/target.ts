/**
 * Where and as whom to connect for a node: its ssh settings merged with ~/.ssh/config (pure).
 *
 * Precedence: the inventory loader fills in defaults, so an explicit `user: root` cannot be told from the
 * default. Hence ssh_config's HostName always applies, while its User, Port and IdentityFile apply only
 * where the node still has the built-in default (root, 22, ~/.ssh/id_ed25519). A node's `ssh.jump` wins
 * over ProxyJump.
 */
import type * as SshConfig from 'ssh-config';
import { requireCjs } from '../cjs.js';
import { InputError } from '../errors.js';
import { DEFAULT_SSH_PORT, DEFAULT_SSH_USER, defaultIdentityFile } from '../inventory/load.js';
import type { SshSettings } from '../inventory/types.js';

export interface Endpoint {
  user: string;
  host: string;
  port: number;
}

export interface Target extends Endpoint {
  /** Private key files to try, in order; the first that exists is used. */
  identityFiles: string[];
  /** Jump hosts, the first one dialled directly, each next one through the previous. */
  jumps: Endpoint[];
}

export interface LocalContext {
  home: string;
  localUser: string;
  /** Where the ssh config came from, for error messages. */
  configPath: string;
}

/** Settings ssh_config gives for a host, with lower-case directive names. */
export type HostConfig = (host: string) => Record<string, string | string[]>;

export function hostConfigFrom(configText: string): HostConfig {
  const config = (requireCjs('ssh-config') as typeof SshConfig).default.parse(configText);
  // `Match exec` would run a command of the config's choosing: never evaluated here.
  return (host) => config.compute(host, { ignoreCase: true, matchExec: false });
}

export function resolveTarget(ssh: SshSettings, host: string, lookup: HostConfig, ctx: LocalContext): Target {
  const cfg = lookup(host);
  const realHost = first(cfg.hostname)?.replace(/%(.)/g, (m, c: string) => (c === 'h' ? host : c === '%' ? '%' : m)) ?? host;
  const user = ssh.user === DEFAULT_SSH_USER ? (first(cfg.user) ?? ssh.user) : ssh.user;
  const port = ssh.port === DEFAULT_SSH_PORT && first(cfg.port) ? parsePort(first(cfg.port)!, ctx.configPath, 'Port') : ssh.port;
  const configured = toList(cfg.identityfile).map((f) => expandPath(f, { ...ctx, user, host: realHost }));
  const identityFiles = ssh.identityFile === defaultIdentityFile(ctx.home) && configured.length > 0 ? configured : [ssh.identityFile];
  const jumps = ssh.jump ? [parseJumpSpec(ssh.jump, 'ssh.jump')] : parseProxyJump(first(cfg.proxyjump), ctx.configPath);
  return { user, host: realHost, port, identityFiles, jumps: jumps.map((j) => resolveJump(j, user, lookup, ctx)) };
}

interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/** `[user@]host[:port]`, host may be `[v6addr]`; `ssh://` prefix allowed as in ProxyJump. */
export function parseJumpSpec(spec: string, field: string, file?: string): JumpSpec {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(spec.trim());
  if (!m) throw new InputError(`not a jump host "${spec}", expected [user@]host[:port]`, { file, field });
  const host = m[2].replace(/^\[(.*)\]$/, '$1');
  return { user: m[1], host, port: m[3] === undefined ? undefined : parsePort(m[3], file, field) };
}

function parseProxyJump(value: string | undefined, configPath: string): JumpSpec[] {
  if (!value || value.toLowerCase() === 'none') return [];
  return value.split(',').map((hop) => parseJumpSpec(hop, 'ProxyJump', configPath));
}

/** A jump host is resolved through ssh_config too (HostName, User, Port), never its own ProxyJump. */
function resolveJump(spec: JumpSpec, targetUser: string, lookup: HostConfig, ctx: LocalContext): Endpoint {
  const cfg = lookup(spec.host);
  const port = spec.port ?? (first(cfg.port) ? parsePort(first(cfg.port)!, ctx.configPath, 'Port') : DEFAULT_SSH_PORT);
  return { user: spec.user ?? first(cfg.user) ?? targetUser, host: first(cfg.hostname) ?? spec.host, port };
}

function parsePort(text: string, file: string | undefined, field: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InputError(`port must be 1..65535, got "${text}"`, { file, field });
  }
  return port;
}

/** Expands ~ and the ssh_config tokens an IdentityFile may use (%d %u %r %h %%). */
function expandPath(path: string, v: LocalContext & { user: string; host: string }): string {
  const tokens: Record<string, string> = { d: v.home, u: v.localUser, r: v.user, h: v.host, '%': '%' };
  const expanded = path.replace(/%(.)/g, (m, c: string) => tokens[c] ?? m);
  return expanded.startsWith('~/') ? v.home + expanded.slice(1) : expanded;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
