/** One command on an open SSH connection: stdin in, stdout/stderr (capped) and exit code out. */
import type { Client, ClientChannel } from 'ssh2';
import { SshError } from './errors.js';

export interface ExecOptions {
  /** Whole command, from opening the channel to its close. Default: no limit. */
  timeoutMs?: number;
  /** Cap on each of stdout and stderr, in bytes (default 4 MiB); past it the command is stopped. */
  maxOutput?: number;
}

export interface ExecResult {
  /** Exit status; null when the command died by a signal or the channel closed without one. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;

export function execOnClient(
  client: Client,
  label: string,
  command: string,
  stdin: string,
  { timeoutMs, maxOutput = DEFAULT_MAX_OUTPUT }: ExecOptions = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let done = false;
    let code: number | null = null;
    const stdout = new Collector('stdout', maxOutput);
    const stderr = new Collector('stderr', maxOutput);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => finish(new SshError('timeout', `${label}: command did not finish within ${timeoutMs / 1000} s`)), timeoutMs);

    function finish(error?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        channel?.close();
        reject(error);
      } else {
        resolve({ code, stdout: stdout.text(), stderr: stderr.text() });
      }
    }

    const add = (collector: Collector) => (data: Buffer) => {
      if (done || collector.add(data)) return;
      finish(new SshError('protocol', `${label}: ${collector.name} exceeded ${maxOutput} bytes; command stopped`));
    };

    const onChannel = (err: Error | undefined, ch: ClientChannel): void => {
      if (err) {
        // ssh2 fails a channel still being opened with this when the connection closes under it.
        const lost = err.message === 'No response from server';
        return finish(new SshError(lost ? 'unreachable' : 'protocol', `${label}: cannot start command: ${err.message}`));
      }
      if (done) return void ch.close(); // timed out before the channel opened
      channel = ch;
      ch.on('data', add(stdout));
      ch.stderr.on('data', add(stderr));
      ch.on('exit', (status: number | null) => {
        code = status;
      });
      ch.on('close', () => finish());
      ch.on('error', (e: Error) => finish(new SshError('protocol', `${label}: ${e.message}`)));
      ch.end(stdin);
    };
    try {
      client.exec(command, onChannel);
    } catch (e) {
      finish(new SshError('unreachable', `${label}: connection lost (${(e as Error).message})`));
    }
  });
}

/** Keeps raw chunks and decodes once, so a UTF-8 character split across chunks survives. */
class Collector {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(
    readonly name: string,
    private readonly limit: number,
  ) {}
  /** False when the data would pass the limit (and is dropped). */
  add(data: Buffer): boolean {
    if (this.size + data.length > this.limit) return false;
    this.chunks.push(data);
    this.size += data.length;
    return true;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
