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
  /** Peer's endpoint host (resolved on the node). */
  endpointHost: string;
  /** = this node's SendPort. */
  endpointPort: number;
  /** IPv6 link-local with prefix length, e.g. fe80::1a2b:3c4d:5e6f:7a8b/64; stable per key pair. */
  linkLocal: string;
}

/** The files a node gets, in the order they are shown; babeld.conf only when babeld is enabled. */
export const NODE_FILES = ['rait.conf', 'peers.conf', 'babeld.conf'] as const;
export type NodeFileName = (typeof NODE_FILES)[number];

/** The files a node gets, by name in config_dir (babeld.conf goes to mesh.babeld.configPath). */
export interface NodeFiles {
  'rait.conf': string;
  'peers.conf': string;
  'babeld.conf'?: string;
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
