// Keeps private keys out of anything shown to a person.

export function redactSecrets(text: string, privateKeys: string[]): string {
  return privateKeys.reduce((t, key) => (key ? t.replaceAll(key, '<redacted>') : t), text);
}
