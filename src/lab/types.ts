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
  /** Dual-stack labs: the node's underlay address of the other family, beside `address` on eth0. */
  secondAddress?: string;
  /** `<ipv6>/128` on the node's lo. */
  loopback: string;
  /** `<ipv4>/32` on the node's lo. */
  loopback4: string;
  /** Absolute path of the node's private files (host key, sshd config, run/, etc/, ...). */
  dir: string;
  /** PID of the node's sshd in the root PID namespace; null until started. */
  sshdPid: number | null;
  /**
   * The node sits behind a router of its own that masquerades its traffic and forwards only SSH to it
   * (`address` is then the router's, on the bridge): no peer can reach the node first.
   */
  nat?: LabRouter;
}

export interface LabRouter {
  /** The router's network namespace; its eth0 is on the bridge (root-side veth: the node's `veth`). */
  namespace: string;
  /** The node's address behind it (on the node's eth0, peer of the router's lan0). */
  privateAddress: string;
  /** The router's address on that private network, the node's default route. */
  gateway: string;
  /** Prefix length of the private network. */
  privateLength: number;
}

/** Everything a lab created, recorded in <dir>/lab.json so `lab down` can remove exactly that. */
export interface Lab {
  version: 1;
  name: string;
  /** Absolute lab directory. */
  dir: string;
  /** The family of the nodes' SSH addresses (and, in a dual-stack lab, of their first transport). */
  addressFamily: AddressFamily;
  subnet: string;
  bridge: string;
  /** `<addr>/<len>` the bridge carries in the root namespace. */
  bridgeAddress: string;
  /** A dual-stack lab's underlay of the other family: its subnet and the bridge's address in it. */
  second?: { subnet: string; bridgeAddress: string };
  /** Loopback ranges (and the private range of nodes behind NAT) routed onto the bridge, so nothing for them leaves by the default route. */
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
  /** Nodes get an underlay address of the other family too, and a transport in each (issue 17). */
  dualStack?: boolean;
  /** Inventory path to write; default inventories/lab.yaml under the cwd. */
  inventory?: string;
  /** Lab directory; default .lab/<name> under the cwd. */
  dir?: string;
  /** Nodes (by name, n1…) to put behind NAT. */
  nat?: string[];
  log?: (message: string) => void;
}
