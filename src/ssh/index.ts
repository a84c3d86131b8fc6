/** SSH transport: the one entry point the commands use. */
export { closeAll, connect, Connection, SSH_CONFIG_ENV, type ConnectOptions } from './connect.js';
export { isUnreachable, SshError, type SshErrorKind } from './errors.js';
export { DEFAULT_MAX_OUTPUT, type ExecOptions, type ExecResult } from './exec.js';
export { loadCredentials, PASSPHRASE_ENV } from './identity.js';
export { isSudoPasswordError } from './sudo.js';
