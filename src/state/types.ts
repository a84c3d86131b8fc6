/** The fleet state: what rait-fleet generated and must keep (keys, SendPorts). Secret. */

export interface NodeKeys {
  /** base64, 32 bytes. Secret: never logged, never on a command line. */
  privateKey: string;
  /** base64, 32 bytes; what `wg pubkey` prints for privateKey. */
  publicKey: string;
  /** The SendPort of the node's only transport; of its ip4 transport when it has both families. */
  sendPort: number;
  /** The SendPort of its ip6 transport when it has both families (sendPortOf reads the two). */
  sendPortIp6?: number;
}

export interface FleetState {
  nodes: Record<string, NodeKeys>;
}
