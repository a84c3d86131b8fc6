// Which IP version a string is written in: node:net's isIP, at a fraction of its first call's cost.
// isIPv6 is one large regular expression that V8 compiles when first run: ~3.5 ms of a process that
// reads an inventory, whose host names all miss isIPv4 and fall through to it (measured: Node 20).
// A name has no ':' and cannot be IPv6; an address goes to SocketAddress, which parses it with
// libuv's inet_pton: the same answers (test/unit/ip-version.test.ts compares them). A zone
// (`fe80::1%eth0`) is left to isIPv6: libuv would look the interface up.
import { SocketAddress, isIPv4, isIPv6 } from 'node:net';

export function ipVersion(s: string): 0 | 4 | 6 {
  if (isIPv4(s)) return 4;
  if (!s.includes(':')) return 0;
  if (s.includes('%')) return isIPv6(s) ? 6 : 0;
  try {
    return new SocketAddress({ address: s, family: 'ipv6' }).family === 'ipv6' ? 6 : 0;
  } catch {
    return 0;
  }
}
