/** The fleet state: what rait-fleet generated and must keep (keys, SendPorts). Secret. */

export interface NodeKeys {
  /** base64, 32 bytes. Secret: never logged, never on a command line. */
  privateKey: string;
  /** base64, 32 bytes; what `wg pubkey` prints for privateKey. */
  publicKey: string;
  sendPort: number;
}

export interface FleetState {
  nodes: Record<string, NodeKeys>;
}
