/** Client credentials: the first existing identity file (decrypted if needed) and/or the ssh-agent. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type * as Ssh2 from 'ssh2';
import { requireCjs } from '../cjs.js';
import { SshError } from './errors.js';

const ssh2 = requireCjs('ssh2') as typeof Ssh2;

export interface Credentials {
  privateKey?: Buffer;
  passphrase?: string;
  /** ssh-agent socket path (SSH_AUTH_SOCK). */
  agent?: string;
  /** For messages: which key file is used, if any. */
  keyFile?: string;
}

export const PASSPHRASE_ENV = 'RAIT_FLEET_SSH_PASSPHRASE';

/** One passphrase per key file per process: prompted (or read from the environment) once, shared by all nodes. */
const passphrases = new Map<string, Promise<string>>();

/**
 * Credentials read once per process and key files (while the files stay the same): every node's
 * connection asks, and deploy once more before its progress display; reading and parsing the key
 * each time was repeated work. Only successes are kept: a failure (a wrong passphrase) is tried
 * again as before.
 */
const loaded = new Map<string, Promise<Credentials>>();

export function loadCredentials(identityFiles: string[], passphrase?: string): Promise<Credentials> {
  const files = identityFiles.map((f) => [f, stamp(f)]);
  const key = JSON.stringify([files, passphrase ?? null, process.env.SSH_AUTH_SOCK ?? null, process.env[PASSPHRASE_ENV] ?? null]);
  let pending = loaded.get(key);
  if (!pending) {
    pending = readCredentials(identityFiles, passphrase);
    loaded.set(key, pending);
    pending.catch(() => loaded.delete(key));
  }
  return pending;
}

/** Identifies a file's current content (inode, size, mtime); '' when it cannot be read. */
function stamp(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return '';
  }
}

async function readCredentials(identityFiles: string[], passphrase?: string): Promise<Credentials> {
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  const keyFile = identityFiles.find((f) => existsSync(f));
  if (!keyFile) {
    if (agent) return { agent };
    throw new SshError('auth', `identity file ${identityFiles.join(', ')} not found and no ssh-agent (SSH_AUTH_SOCK is not set)`);
  }
  const privateKey = readFileSync(keyFile);
  const plain = ssh2.utils.parseKey(privateKey);
  if (!(plain instanceof Error)) return { privateKey, agent, keyFile };
  if (!/encrypted|passphrase/i.test(plain.message)) {
    throw new SshError('auth', `cannot use private key ${keyFile}: ${plain.message}`);
  }
  const secret = await passphraseFor(keyFile, passphrase);
  if (ssh2.utils.parseKey(privateKey, secret) instanceof Error) {
    passphrases.delete(keyFile);
    throw new SshError('auth', `cannot decrypt private key ${keyFile}: wrong passphrase`);
  }
  return { privateKey, passphrase: secret, agent, keyFile };
}

function passphraseFor(keyFile: string, given: string | undefined): Promise<string> {
  if (given !== undefined) return Promise.resolve(given);
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) return Promise.resolve(fromEnv);
  if (!process.stdin.isTTY) {
    return Promise.reject(
      new SshError('auth', `private key ${keyFile} is encrypted: set ${PASSPHRASE_ENV} or run on a terminal to be asked`),
    );
  }
  let pending = passphrases.get(keyFile);
  if (!pending) {
    pending = promptChain.then(() => promptHidden(`Passphrase for ${keyFile}: `));
    promptChain = pending.then(
      () => undefined,
      () => undefined,
    );
    passphrases.set(keyFile, pending);
  }
  return pending;
}

/** Prompts never overlap on the terminal. */
let promptChain: Promise<unknown> = Promise.resolve();

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new SshError('auth', 'passphrase prompt cancelled'));
          return;
        }
        value = ch === '\u007f' || ch === '\b' ? value.slice(0, -1) : value + ch;
      }
    };
    process.stderr.write(question);
    input.setEncoding('utf8');
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  });
}
