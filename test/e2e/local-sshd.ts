// A throwaway OpenSSH server of a test's own on 127.0.0.1 (needs root). It is stopped through its own PID
// only, so the machine's sshd and other tests' servers are never touched.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './cli-helpers.js';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });
}

export interface LocalSshdOptions {
  /** Where sshd_config and the PID file are written. */
  dir: string;
  ports: number[];
  hostKey: string;
  authorizedKeysFile: string;
  /** Lines after the common ones; `Match` blocks go here, as they must come last. */
  extraConfig?: string[];
}

export interface LocalSshd {
  /** What sshd has logged so far (it runs with -e, logging to stderr). */
  log(): string;
  /** Ends this sshd (by its PID) and waits until it has exited. */
  stop(): Promise<void>;
}

/** Starts sshd listening on every port in `ports`; resolves once all of them accept connections. */
export async function startLocalSshd(o: LocalSshdOptions): Promise<LocalSshd> {
  const config = join(o.dir, 'sshd_config');
  writeFileSync(
    config,
    [
      ...o.ports.map((p) => `Port ${p}`),
      'ListenAddress 127.0.0.1',
      `HostKey ${o.hostKey}`,
      `AuthorizedKeysFile ${o.authorizedKeysFile}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      `PidFile ${join(o.dir, 'sshd.pid')}`,
      'StrictModes no',
      ...(o.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  let exited = false;
  // Not 'close': per-connection sshd children share the stderr pipe and may outlive the listener.
  const gone = new Promise<void>((resolve) => {
    const done = (): void => ((exited = true), resolve());
    child.once('exit', done);
    child.once('error', (e) => ((log += `${e.message}\n`), done()));
  });
  const stop = async (): Promise<void> => {
    // exitCode/signalCode are set once the child is reaped; after that its PID may belong to someone else.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
    await gone;
  };
  const listening = async (): Promise<boolean> => (await Promise.all(o.ports.map(canConnect))).every(Boolean);
  if (!(await waitFor(async () => exited || (await listening()), 10_000, 100)) || exited) {
    await stop();
    throw new Error(`sshd did not start on ${o.ports.join(', ')}:\n${log}`);
  }
  return { log: () => log, stop };
}
