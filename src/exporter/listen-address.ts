// --listen ADDRESS:PORT, as Prometheus exporters take it. Pure.
import { ipVersion } from '../ip-version.js';
import { isHostOrIp } from '../inventory/checks.js';
import { InputError } from '../errors.js';

export interface ListenAddress {
  /** An IP address or a host name; undefined: every address of the machine (`:PORT`). */
  host?: string;
  /** 0 lets the system pick a free port (the exporter says which). */
  port: number;
}

const FORM = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]{1,5})$/;

export function parseListenAddress(value: string): ListenAddress {
  const m = FORM.exec(value);
  const bad = (why: string): InputError =>
    new InputError(`${why}, got "${value}" (e.g. 127.0.0.1:9455, [::1]:9455, or :9455 for every address)`, { field: '--listen' });
  if (!m) throw bad('expected ADDRESS:PORT');
  const [, bracketed, plain, portText] = m;
  const port = Number(portText);
  if (port > 65535) throw bad('the port must be 0-65535');
  if (bracketed !== undefined) {
    // Brackets are for IPv6 addresses only: they keep the address's colons apart from the port's.
    if (ipVersion(bracketed) !== 6) throw bad('expected an IPv6 address in brackets');
    return { host: bracketed, port };
  }
  if (plain === '') return { port };
  if (!isHostOrIp(plain!) || plain!.endsWith('.')) throw bad('expected an IP address or a host name');
  return { host: plain, port };
}

/** How the address reads in a URL: IPv6 in brackets. */
export function formatListenAddress({ host, port }: { host?: string; port: number }): string {
  return `${host === undefined ? '' : ipVersion(host) === 6 ? `[${host}]` : host}:${port}`;
}
