/** The plan: pure data derived from inventory + state; what deploy pushes and status checks against. */
import type { MeshSettings, Node } from '../inventory/types.js';
import type { NodeKeys } from '../state/types.js';

/** One point-to-point WireGuard interface on a node, towards one peer (RAIT's scheme). */
export interface Link {
  /** interface_prefix + peer SendPort, e.g. rait50001. */
  name: string;
  /** Peer node name. */
  peer: string;
  peerPublicKey: string;
  /** = peer's SendPort. */
  listenPort: number;
  /** Peer's endpoint host (resolved on the node); null when the peer is behind NAT (learnt from its handshake). */
  endpointHost: string | null;
  /** = this node's SendPort. */
  endpointPort: number;
  /** IPv6 link-local with prefix length, e.g. fe80::1a2b:3c4d:5e6f:7a8b/64; stable per key pair. */
  linkLocal: string;
  /** Seconds between keepalives this end sends (it is behind NAT); 0: none. */
  keepalive: number;
}

/** The config files a node gets: status checks these for drift. babeld.conf only when babeld is enabled. */
export const CONFIG_FILES = ['rait.conf', 'peers.conf', 'babeld.conf'] as const;
/** The systemd units that apply the plan at boot and heal it (installed where systemd runs); no timer with heal_interval 0. */
export const UNIT_FILES = ['rait-fleet.service', 'rait-fleet-heal.service', 'rait-fleet-heal.timer'] as const;
/** Every file a node gets from its plan, in the order they are shown. */
export const NODE_FILES = [...CONFIG_FILES, ...UNIT_FILES] as const;
export type NodeFileName = (typeof NODE_FILES)[number];

/** The files a node gets, by name in config_dir (babeld.conf goes to mesh.babeld.configPath; units to systemd's directory). */
export interface NodeFiles {
  'rait.conf': string;
  'peers.conf': string;
  'babeld.conf'?: string;
  'rait-fleet.service': string;
  'rait-fleet-heal.service'?: string;
  'rait-fleet-heal.timer'?: string;
}

export interface NodePlan {
  node: Node;
  keys: NodeKeys;
  links: Link[];
  files: NodeFiles;
}

export interface Plan {
  mesh: MeshSettings;
  nodes: NodePlan[];
}
