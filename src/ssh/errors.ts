/** Why an SSH connection or command failed; the runner reports a node as unreachable for the first two. */
export type SshErrorKind = 'unreachable' | 'timeout' | 'auth' | 'host-key' | 'protocol';

export class SshError extends Error {
  readonly kind: SshErrorKind;
  constructor(kind: SshErrorKind, message: string) {
    super(message);
    this.name = 'SshError';
    this.kind = kind;
  }
}

/** SSH never got through: nothing ran on the node. */
export function isUnreachable(error: Error): boolean {
  return error instanceof SshError && (error.kind === 'unreachable' || error.kind === 'timeout');
}
