/** SSH transport: the one entry point the commands use. */
export { closeAll, connect, targetOf } from './connect.js';
export { isUnreachable, SshError, type SshErrorKind } from './errors.js';
export { loadCredentials } from './identity.js';
export { isSudoPasswordError } from './sudo.js';
