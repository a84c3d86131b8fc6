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
  /** Pull mode only: the key that signs the registry, and what was published (docs/pull-mode.md). */
  signing?: Signing;
}

/** An Ed25519 key pair, base64: the 32-byte seed (secret) and the public key. */
export interface SigningKey {
  privateKey: string;
  publicKey: string;
}

export interface Signing {
  /** Signs every registry publish writes. */
  current: SigningKey;
  /** Made by keygen --rotate-signing-key: named by the registry until publish --switch-signing-key. */
  next?: SigningKey;
  /** The serial of the last registry published; 0 before the first. Only grows. */
  serial: number;
  /** The serial of the first registry that named `next`; 0 while none did. */
  nextNamed: number;
}
