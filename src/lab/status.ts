// `lab status`: per node, is its namespace there, is its sshd alive, does it answer.
import { existsSync } from 'node:fs';
import { readBanner } from './node.js';
import { isAlive } from './system.js';
import type { Lab } from './types.js';

export interface LabNodeStatus {
  node: string;
  namespace: string;
  namespaceExists: boolean;
  address: string;
  loopback: string;
  sshdPid: number | null;
  sshdAlive: boolean;
  /** The SSH identification line, or undefined when nothing answered within a second. */
  banner?: string;
}

export function labStatus(lab: Lab): Promise<LabNodeStatus[]> {
  return Promise.all(
    lab.nodes.map(async (n) => ({
      node: n.name,
      namespace: n.namespace,
      namespaceExists: existsSync(`/run/netns/${n.namespace}`),
      address: n.address,
      loopback: n.loopback,
      sshdPid: n.sshdPid,
      sshdAlive: n.sshdPid !== null && isAlive(n.sshdPid),
      banner: await readBanner(n.address, 1000),
    })),
  );
}
