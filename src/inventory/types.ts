/** The validated inventory: what the operator declared, with every default filled in. */

export type AddressFamily = 'ip4' | 'ip6';
export type Isolation = 'none' | 'netns' | 'vrf';
export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/**
 * Who runs babeld: the agent (its own pid file and control socket; restarted when its config
 * changes), or the operator (RAIT's way: the agent only adds and flushes interfaces on its socket).
 */
export type BabeldManage = 'agent' | 'external';

export interface BabeldSettings {
  enabled: boolean;
  manage: BabeldManage;
  /** Absolute path of the liquid template on the control machine. */
  template: string;
  /** Where the rendered config lands on the node. */
  configPath: string;
  /** babeld's local control socket on the node. */
  socket: string;
  /** Seconds between babel hellos on the links; a neighbour is lost after a few missed ones. */
  helloInterval: number;
}

/** The interface prefix of each address family's links (the same for both unless the inventory gives one per family). */
export type InterfacePrefixes = Readonly<Record<AddressFamily, string>>;

export interface MeshSettings {
  /** Links in family F are named interfacePrefixes[F] + the peer's SendPort in F (RAIT v3: one prefix per transport). */
  interfacePrefixes: InterfacePrefixes;
  interfaceGroup: number;
  mtu: number;
  fwmark: number;
  sendPortRange: readonly [number, number];
  isolation: Isolation;
  /** netns/vrf holding the WireGuard interfaces; "" = current namespace. */
  interfaceNamespace: string;
  /** netns/vrf holding the WireGuard UDP sockets; "" = current namespace. */
  transitNamespace: string;
  configDir: string;
  /** Seconds between heals (rait-fleet-agent apply on the node, from a systemd timer); 0: none. */
  healInterval: number;
  /** Seconds between keepalives a node behind NAT sends on its links, to keep its NAT mappings open. */
  keepalive: number;
  babeld: BabeldSettings;
  /** Pull mode (docs/pull-mode.md): nodes follow a signed registry at this URL; null: push only. */
  pull: PullSettings | null;
}

/** Where the nodes fetch their signed registry from, and how often. */
export interface PullSettings {
  /** http(s) URL of the directory `rait-fleet publish --out` wrote, as uploaded; no trailing slash. */
  url: string;
  /** Seconds between pulls on each node (systemd timer). */
  interval: number;
}

export interface SshSettings {
  user: string;
  port: number;
  /** Absolute path (~ expanded). */
  identityFile: string;
  /** Absolute path (~ expanded). */
  knownHosts: string;
  hostKeyChecking: HostKeyChecking;
  become: boolean;
  /** Seconds. Bounds TCP connect + SSH handshake + authentication. */
  connectTimeout: number;
  /** Optional jump host, `[user@]host[:port]`. */
  jump?: string;
}

/**
 * One of a node's transports (RAIT v3's word): its tunnels over one underlay address family, with a
 * SendPort of its own. A pair of nodes gets one link per family they share.
 */
export interface Transport {
  family: AddressFamily;
  /** WireGuard endpoint host peers send to in this family: an address of it, or a name resolved in it; null behind NAT. */
  endpoint: string | null;
  /** Pinned SendPort, if any. */
  sendPort?: number;
}

export interface Node {
  name: string;
  /** SSH address (name or IP). */
  host: string;
  /** The node has no address peers can send to (behind NAT): peers learn it from its handshakes. */
  nat: boolean;
  /** One per address family of the node (one or two), in the inventory's order; the first is its primary transport. */
  transports: Transport[];
  groups: string[];
  vars: Record<string, unknown>;
  ssh: SshSettings;
}

export interface Inventory {
  /** Absolute path of the inventory file. */
  path: string;
  mesh: MeshSettings;
  /** Absolute path of the state file. */
  statePath: string;
  ssh: SshSettings;
  nodes: Node[];
}
