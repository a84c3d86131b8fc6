/** The plan: pure data derived from inventory + state; what deploy pushes and status checks against. */
import type { AddressFamily, MeshSettings, Node } from '../inventory/types.js';
import type { NodeKeys } from '../state/types.js';

/**
 * One point-to-point WireGuard interface on a node, towards one peer, in one address family (RAIT's
 * scheme): a pair of nodes has one per family they share.
 */
export interface Link {
  /** The family's interface prefix + the peer's SendPort in it, e.g. rait50001. */
  name: string;
  /** Peer node name. */
  peer: string;
  /** The underlay family the link's packets travel in; its endpoint name is resolved in it. */
  family: AddressFamily;
  peerPublicKey: string;
  /** = peer's SendPort in the family. */
  listenPort: number;
  /** Peer's endpoint host in the family (resolved on the node); null when the peer is behind NAT (learnt from its handshake). */
  endpointHost: string | null;
  /** = this node's SendPort in the family. */
  endpointPort: number;
  /** IPv6 link-local with prefix length, e.g. fe80::1a2b:3c4d:5e6f:7a8b/64; stable per key pair. */
  linkLocal: string;
  /** Seconds between keepalives this end sends (it is behind NAT); 0: none. */
  keepalive: number;
}

/**
 * The config files a node gets: status checks these for drift. One rait.conf per transport (RAIT runs
 * one per file): rait.conf for the node's first family, rait-<family>.conf for a second; babeld.conf
 * only when babeld is enabled.
 */
export const CONFIG_FILES = ['rait.conf', 'rait-ip4.conf', 'rait-ip6.conf', 'peers.conf', 'babeld.conf'] as const;
/** The rait.conf of a node's transports, in order. */
export const raitConfName = (index: number, family: AddressFamily): 'rait.conf' | 'rait-ip4.conf' | 'rait-ip6.conf' =>
  index === 0 ? 'rait.conf' : `rait-${family}.conf`;
/**
 * The systemd units that apply the plan at boot and heal it (installed where systemd runs); no timer with
 * heal_interval 0. The pull units only in pull mode.
 */
export const UNIT_FILES = [
  'rait-fleet.service',
  'rait-fleet-heal.service',
  'rait-fleet-heal.timer',
  'rait-fleet-pull.service',
  'rait-fleet-pull.timer',
] as const;
/** Pull mode: where the node fetches its registry and the keys it trusts to sign it (docs/pull-mode.md). */
export const PULL_FILE = 'pull';
/** Every file a node gets from its plan, in the order they are shown. */
export const NODE_FILES = [...CONFIG_FILES, ...UNIT_FILES, PULL_FILE] as const;
export type NodeFileName = (typeof NODE_FILES)[number];

/** The files a node gets, by name in config_dir (babeld.conf goes to mesh.babeld.configPath; units to systemd's directory). */
export interface NodeFiles {
  'rait.conf': string;
  /** The second transport's rait.conf of a dual-stack node. */
  'rait-ip4.conf'?: string;
  'rait-ip6.conf'?: string;
  'peers.conf': string;
  'babeld.conf'?: string;
  'rait-fleet.service': string;
  'rait-fleet-heal.service'?: string;
  'rait-fleet-heal.timer'?: string;
  'rait-fleet-pull.service'?: string;
  'rait-fleet-pull.timer'?: string;
  /** Pull mode only: `node`, `url` and `signer` lines; deploy installs it, a registry never carries it. */
  pull?: string;
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
