import type { AddressFamily } from '../inventory/types.js';
import type { InotifyChange } from './inotify.js';

/** One lab node: a network namespace + private mount namespace running its own sshd. */
export interface LabNode {
  name: string;
  /** Network namespace (`ip netns`), also the name of the root-side veth end. */
  namespace: string;
  veth: string;
  /** Underlay address on eth0 (and the SSH host). */
  address: string;
  /** `<ipv6>/128` on the node's lo. */
  loopback: string;
  /** `<ipv4>/32` on the node's lo. */
  loopback4: string;
  /** Absolute path of the node's private files (host key, sshd config, run/, etc/, ...). */
  dir: string;
  /** PID of the node's sshd in the root PID namespace; null until started. */
  sshdPid: number | null;
}

/** Everything a lab created, recorded in <dir>/lab.json so `lab down` can remove exactly that. */
export interface Lab {
  version: 1;
  name: string;
  /** Absolute lab directory. */
  dir: string;
  addressFamily: AddressFamily;
  subnet: string;
  bridge: string;
  /** `<addr>/<len>` the bridge carries in the root namespace. */
  bridgeAddress: string;
  /** Loopback ranges routed onto the bridge so nothing for them leaves by the default route. */
  loopbackRanges: string[];
  /** Lab SSH private key (mode 0600). */
  keyFile: string;
  knownHosts: string;
  /** Absolute path of the generated inventory. */
  inventory: string;
  nodes: LabNode[];
  /** fs.inotify.max_user_instances as `up` found and set it, when it raised it (down puts it back). */
  inotify?: InotifyChange;
}

export interface LabUpOptions {
  nodes?: number;
  name?: string;
  subnet?: string;
  addressFamily?: AddressFamily;
  /** Inventory path to write; default inventories/lab.yaml under the cwd. */
  inventory?: string;
  /** Lab directory; default .lab/<name> under the cwd. */
  dir?: string;
  log?: (message: string) => void;
}
