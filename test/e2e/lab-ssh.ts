// OpenSSH client against a lab node: the lab key, the lab's known_hosts, strict checking, no user config.
import { execFile } from 'node:child_process';
import type { Lab } from '../../src/lab/index.js';

export function labSsh(
  lab: Pick<Lab, 'keyFile' | 'knownHosts'>,
  address: string,
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${lab.knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=5',
    '-i',
    lab.keyFile,
    `root@${address}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
