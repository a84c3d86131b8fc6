/**
 * Opening SSH connections: ssh2 Client with key/agent auth, the host key policy, ssh_config, shared jump
 * hosts, and one deadline (connect_timeout) over TCP connect + handshake + auth, jumps included.
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type * as Ssh2 from 'ssh2';
import type { Client, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { requireCjs } from '../cjs.js';
import type { Node, SshSettings } from '../inventory/types.js';
import { SshError } from './errors.js';
import { execOnClient, type ExecOptions, type ExecResult } from './exec.js';
import { applyHostKeyPolicy, readKnownHosts } from './host-key-policy.js';
import { hostKeyAlgorithms, knownKeyTypes } from './host-keys.js';
import { loadCredentials, type Credentials } from './identity.js';
import { hostConfigFrom, resolveTarget, type Endpoint, type HostConfig, type Target } from './target.js';
import { parsedFile } from './file-cache.js';

const ssh2 = requireCjs('ssh2') as typeof Ssh2;

export interface ConnectOptions {
  /** Passphrase for an encrypted identity file (else RAIT_FLEET_SSH_PASSPHRASE, else a prompt on a TTY). */
  passphrase?: string;
  log?: (message: string) => void;
  /** ssh_config file to read instead of $RAIT_FLEET_SSH_CONFIG or ~/.ssh/config. */
  sshConfigPath?: string;
}

export class Connection {
  constructor(
    private readonly client: Client,
    /** `user@host:port`, for messages. */
    readonly label: string,
  ) {}

  exec(command: string, stdin: string, opts?: ExecOptions): Promise<ExecResult> {
    return execOnClient(this.client, this.label, command, stdin, opts);
  }

  close(): void {
    this.client.end();
  }
}

export const SSH_CONFIG_ENV = 'RAIT_FLEET_SSH_CONFIG';

/** Where and how `node` is reached: the inventory's ssh settings with ~/.ssh/config applied. */
export function targetOf(node: Node, opts: Pick<ConnectOptions, 'sshConfigPath'> = {}): Target {
  const home = homedir();
  const configPath = opts.sshConfigPath ?? process.env[SSH_CONFIG_ENV] ?? join(home, '.ssh', 'config');
  return resolveTarget(node.ssh, node.host, readHostConfig(configPath), { home, localUser: userInfo().username, configPath });
}

export async function connect(node: Node, opts: ConnectOptions = {}): Promise<Connection> {
  const log = opts.log ?? (() => {});
  const target = targetOf(node, opts);
  // Before the deadline starts: a passphrase prompt must not count against connect_timeout.
  const creds = await loadCredentials(target.identityFiles, opts.passphrase);
  const timeoutMs = node.ssh.connectTimeout * 1000;
  const deadline = Date.now() + timeoutMs;
  const label = endpointLabel(target);
  const via = target.jumps.length ? ` via ${target.jumps.map(endpointLabel).join(', ')}` : '';
  log(`connecting to ${label}${via}`);
  const dialer: Dialer = { settings: node.ssh, creds, timeoutMs, log };
  let sock: Duplex | undefined;
  if (target.jumps.length > 0) {
    const jump = await beforeDeadline(jumpClient(target.jumps, dialer), deadline, `${label}${via}`);
    sock = await beforeDeadline(forward(jump, target), deadline, label, (ch) => ch.destroy());
  }
  const client = await dial(target, dialer, sock, Math.max(1, deadline - Date.now()));
  return new Connection(client, label);
}

/** Ends every shared jump host connection (call once the command is done with all nodes). */
export function closeAll(): void {
  for (const pending of jumps.values())
    pending.then(
      (c) => c.end(),
      () => {},
    );
  jumps.clear();
}

function readHostConfig(path: string): HostConfig {
  return parsedFile(
    path,
    () => readFileSync(path, 'utf8'),
    hostConfigFrom,
    () => ({}),
  );
}

interface Dialer {
  settings: SshSettings;
  creds: Credentials;
  timeoutMs: number;
  log: (message: string) => void;
}

/** One connection per jump chain, shared by every node behind it; keyed by the hops' user@host:port. */
const jumps = new Map<string, Promise<Client>>();

function jumpClient(hops: Endpoint[], dialer: Dialer): Promise<Client> {
  const key = hops.map(endpointLabel).join(',');
  let pending = jumps.get(key);
  if (!pending) {
    const hop = hops[hops.length - 1];
    dialer.log(`opening jump connection ${key}`);
    pending = (async () => {
      const sock = hops.length > 1 ? await forward(await jumpClient(hops.slice(0, -1), dialer), hop) : undefined;
      const client = await dial(hop, dialer, sock, dialer.timeoutMs);
      // Only this connection's entry: closeAll may have replaced it with a newer one by now.
      client.once('close', () => jumps.get(key) === pending && jumps.delete(key));
      return client;
    })();
    jumps.set(key, pending);
  }
  return pending;
}

function forward(jump: Client, to: Endpoint): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(new SshError('unreachable', `${to.host}:${to.port} via jump host: ${err.message}`));
    try {
      jump.forwardOut('127.0.0.1', 0, to.host, to.port, (err, channel) => (err ? failed(err) : resolve(channel)));
    } catch (e) {
      failed(e as Error); // the jump connection is gone
    }
  });
}

/** Rejects with 'timeout' once the deadline passes; a late value is disposed of. */
function beforeDeadline<T>(pending: Promise<T>, deadline: number, label: string, dispose?: (v: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(
      () => {
        late = true;
        reject(timeoutError(label));
      },
      Math.max(0, deadline - Date.now()),
    );
    pending.then(
      (v) => (late ? dispose?.(v) : (clearTimeout(timer), resolve(v))),
      (e: unknown) => (late ? undefined : (clearTimeout(timer), reject(e))),
    );
  });
}

/** An established session that does not answer 3 keepalives 5 s apart is gone. */
const KEEPALIVE_MS = 5000;
const KEEPALIVE_COUNT = 3;

function dial(to: Endpoint, dialer: Dialer, sock: Duplex | undefined, timeoutMs: number): Promise<Client> {
  const { settings, creds, log } = dialer;
  const label = endpointLabel(to);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let refusal: string | undefined;
    let settled = false;
    const fail = (err: SshError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.destroy();
      sock?.destroy();
      reject(err);
    };
    // ssh2's readyTimeout does not cover every stall (e.g. a jump channel that never answers): own timer too.
    const timer = setTimeout(() => fail(timeoutError(label)), timeoutMs);
    client.on('error', (err: Error & { level?: string; code?: string }) => fail(classify(err, to, creds, refusal)));
    client.once('close', () => fail(new SshError('unreachable', `${label}: connection closed during SSH handshake`)));
    client.once('ready', () => {
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    const known = settings.hostKeyChecking === 'off' ? [] : knownKeyTypes(readKnownHosts(settings.knownHosts), to.host, to.port);
    const config: ConnectConfig = {
      host: to.host,
      port: to.port,
      username: to.user,
      sock,
      privateKey: creds.privateKey,
      passphrase: creds.passphrase,
      agent: creds.agent,
      readyTimeout: timeoutMs,
      // A session whose path died (a deploy that cut the mesh a jump host reaches the node over) ends
      // within seconds, not when TCP gives up minutes later.
      keepaliveInterval: KEEPALIVE_MS,
      keepaliveCountMax: KEEPALIVE_COUNT,
      algorithms: { serverHostKey: hostKeyAlgorithms(known) as ServerHostKeyAlgorithm[] },
      hostVerifier: (key: Buffer) => {
        try {
          refusal = applyHostKeyPolicy(settings.hostKeyChecking, settings.knownHosts, to.host, to.port, key, log);
        } catch (e) {
          refusal = `cannot check host key of ${label} against ${settings.knownHosts}: ${(e as Error).message}`;
        }
        return refusal === undefined;
      },
    };
    client.connect(config);
  });
}

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

function classify(err: Error & { level?: string; code?: string }, to: Endpoint, creds: Credentials, refusal?: string): SshError {
  const label = endpointLabel(to);
  if (refusal !== undefined) return new SshError('host-key', refusal);
  if (err.level === 'client-timeout') return timeoutError(label);
  if (err.level === 'client-authentication') {
    const tried = [creds.keyFile, creds.agent && 'ssh-agent'].filter(Boolean).join(' and ');
    return new SshError(
      'auth',
      `permission denied (publickey) for ${to.user}@${to.host}:${to.port} with ${tried} — is the key in authorized_keys?`,
    );
  }
  const reason = err.code ? UNREACHABLE_CODES[err.code] : undefined;
  if (reason) return new SshError('unreachable', `${label}: ${reason}`);
  return new SshError('protocol', `${label}: ${err.message}`);
}

function timeoutError(label: string): SshError {
  return new SshError('timeout', `${label}: no SSH session within connect_timeout`);
}

function endpointLabel(e: Endpoint): string {
  return `${e.user}@${e.host}:${e.port}`;
}
