/** True when sudo -n refused because it wanted a password (or a terminal to ask for one). */
export function isSudoPasswordError(stderr: string): boolean {
  return /sudo: (a password is required|a terminal is required)/.test(stderr);
}
