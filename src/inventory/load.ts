// Loads and validates the inventory YAML: the schema, the cross-field rules and the defaults.
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ipVersion } from '../ip-version.js';
import { readText } from '../atomic-file.js';
import {
  MAX_IFNAME,
  isEndpointHost,
  isHostOrIp,
  isInterfacePrefix,
  isJumpSpec,
  isName,
  isNamespaceName,
  isPullUrl,
  isSafeAbsolutePath,
  isUserName,
} from './checks.js';
import type {
  AddressFamily,
  BabeldManage,
  BabeldSettings,
  HostKeyChecking,
  InterfacePrefixes,
  Inventory,
  Isolation,
  MeshSettings,
  Node,
  PullSettings,
  SshSettings,
  Transport,
} from './types.js';
import { readVars } from './vars.js';
import { YamlReader, entryOr, type Field } from './yaml-reader.js';
import { DEFAULT_BABELD_TEMPLATE } from '../paths.js';

const TOP_KEYS = ['mesh', 'state', 'ssh', 'nodes'] as const;
const MESH_KEYS = [
  'interface_prefix',
  'interface_group',
  'mtu',
  'fwmark',
  'send_port_range',
  'isolation',
  'interface_namespace',
  'transit_namespace',
  'config_dir',
  'heal_interval',
  'keepalive',
  'babeld',
  'pull',
] as const;
const PULL_KEYS = ['url', 'interval'] as const;
const BABELD_KEYS = ['enabled', 'manage', 'template', 'config_path', 'socket', 'hello_interval'] as const;
const SSH_KEYS = ['user', 'port', 'identity_file', 'known_hosts', 'host_key_checking', 'become', 'connect_timeout', 'jump'] as const;
const NODE_KEYS = ['host', 'endpoint', 'nat', 'address_family', 'send_port', 'groups', 'vars', 'ssh'] as const;

const ADDRESS_FAMILIES: readonly AddressFamily[] = ['ip4', 'ip6'];
const ISOLATIONS: readonly Isolation[] = ['none', 'netns', 'vrf'];
const HOST_KEY_CHECKING: readonly HostKeyChecking[] = ['strict', 'accept-new', 'off'];
const BABELD_MANAGE: readonly BabeldManage[] = ['agent', 'external'];
const U32_MAX = 0xffffffff;
const I32_MAX = 0x7fffffff;

/** The inventory to use: the argument, else $RAIT_FLEET_INVENTORY, else ./inventory.yaml; absolute. */
export function resolveInventoryPath(arg?: string): string {
  return resolve(arg || process.env.RAIT_FLEET_INVENTORY || 'inventory.yaml');
}

/** Where an inventory that names no state file keeps it: `<inventory name>.state.toml` beside it. */
export const defaultStatePath = (inventory: string): string =>
  join(dirname(inventory), `${basename(inventory).replace(/\.ya?ml$/, '')}.state.toml`);

export function loadInventory(path: string): Inventory {
  const file = resolve(path);
  const hint =
    basename(file) === 'lab.yaml'
      ? '`rait-fleet lab up` writes it for a local lab'
      : 'give the inventory as an argument or in $RAIT_FLEET_INVENTORY (default ./inventory.yaml)';
  return parseInventory(file, readText(file, 'inventory', hint));
}

/** Validates inventory text; `file` names it in errors and anchors relative paths. */
export function parseInventory(file: string, text: string): Inventory {
  const r = new YamlReader(file, text);
  const top = r.map(r.root, TOP_KEYS);
  const base = dirname(file);
  const meshField = top.get('mesh') ?? { node: null, path: 'mesh' };
  const { mesh: settings, prefix } = readMesh(r, meshField, base);
  const ssh = readSsh(r, top.get('ssh') ?? { node: null, path: 'ssh' }, defaultSsh(), base);
  const nodesField = top.get('nodes') ?? { node: null, path: 'nodes' };
  const read = [...r.map(nodesField, undefined, 'duplicate node name')].map(([name, field]) => {
    if (!isName(name)) throw r.error(field, `invalid node name "${name}" (letters, digits, "_", "-", "." only)`);
    return readNode(r, name, field, ssh, base);
  });
  if (read.length === 0) throw r.error(nodesField, 'no nodes: the mesh needs at least one');
  const mesh: MeshSettings = { ...settings, interfacePrefixes: interfacePrefixes(r, prefix, read, settings.sendPortRange) };
  checkPorts(r, mesh.sendPortRange, read, r.map(meshField).get('send_port_range') ?? nodesField);
  const nodes = read.map((n) => n.node);
  const stateField = top.get('state');
  const statePath = stateField ? localPath(r.string(stateField), base) : defaultStatePath(file);
  return { path: file, mesh, statePath, ssh, nodes };
}

/** `mesh.interface_prefix` as written: one prefix, or one per family; checked against the nodes' families later. */
interface PrefixSetting {
  value: string | Partial<Record<AddressFamily, string>>;
  /** Its field; the mesh's when the inventory gives none. */
  at: Field;
  given: boolean;
}

function readMesh(r: YamlReader, at: Field, base: string): { mesh: Omit<MeshSettings, 'interfacePrefixes'>; prefix: PrefixSetting } {
  const m = r.map(at, MESH_KEYS);
  const prefixField = m.get('interface_prefix');
  const prefix: PrefixSetting = prefixField
    ? { value: readPrefix(r, prefixField), at: prefixField, given: true }
    : { value: 'rait', at, given: false };
  const sendPortRange = entryOr(m, 'send_port_range', (f) => readRange(r, f), [50000, 50999] as const);
  const isolation = entryOr(m, 'isolation', (f) => r.oneOf(f, ISOLATIONS), 'none');
  const namespace = (f: Field): string => {
    const name = r.string(f);
    if (name === '') return '';
    if (!isNamespaceName(name)) throw r.error(f, `invalid namespace name "${name}" (letters, digits, "_", "-", ".", at most 15)`);
    if (isolation === 'none') throw r.error(f, 'a namespace needs isolation netns or vrf');
    return name;
  };
  const configDir = entryOr(m, 'config_dir', (f) => remotePath(r, f), '/etc/rait');
  const interfaceNamespace = entryOr(m, 'interface_namespace', namespace, '');
  const babeld = readBabeld(r, m.get('babeld') ?? { node: null, path: `${at.path}.babeld` }, configDir, base);
  if (isolation === 'vrf' && interfaceNamespace !== '' && babeld.enabled) {
    // Measured on Debian's 6.1 kernel with babeld 1.12.1 (docs/kernel-vm.md): the links come up, babeld never sees a neighbour.
    throw r.error(
      m.get('interface_namespace')!,
      'babeld cannot route over links enslaved to a VRF: it finds the link a packet came in on by its IPv6 scope id, which the ' +
        'kernel sets to the VRF, so it ignores every hello. Use isolation: netns, or keep the links out of a VRF ' +
        '(interface_namespace: "" with a transit_namespace VRF for WireGuard\'s own traffic), or set mesh.babeld.enabled: false',
    );
  }
  const mesh = {
    // RAIT reads InterfaceGroup as a signed 32-bit int and refuses rait.conf beyond it.
    interfaceGroup: entryOr(m, 'interface_group', (f) => r.integer(f, 0, I32_MAX), 54),
    mtu: entryOr(m, 'mtu', (f) => r.integer(f, 1280, 65535), 1400),
    fwmark: entryOr(m, 'fwmark', (f) => r.integer(f, 0, U32_MAX), 54),
    sendPortRange,
    isolation,
    interfaceNamespace,
    transitNamespace: entryOr(m, 'transit_namespace', namespace, ''),
    configDir,
    healInterval: entryOr(m, 'heal_interval', (f) => r.integer(f, 0, 86400), 300),
    // WireGuard's own bound; 25 s keeps the usual NAT mappings (30 s or more) open.
    keepalive: entryOr(m, 'keepalive', (f) => r.integer(f, 1, 65535), 25),
    babeld,
    pull: m.has('pull') ? readPull(r, m.get('pull')!) : null,
  };
  return { mesh, prefix };
}

function readPull(r: YamlReader, at: Field): PullSettings {
  const p = r.map(at, PULL_KEYS);
  const urlField = p.get('url');
  if (!urlField) throw r.error(at, 'missing "url" (where the nodes fetch what rait-fleet publish writes)');
  const url = r.string(urlField, isPullUrl, 'url (expected http(s)://host[:port]/path, path of letters, digits, "._~+-/" only)');
  return {
    url: url.replace(/\/+$/, ''),
    // RAIT's community pulls every 15 minutes; 10 min keeps a new node's wait short at 1/6 of a request a minute.
    interval: entryOr(p, 'interval', (f) => r.integer(f, 10, 86400), 600),
  };
}

const PREFIX_WHAT = 'interface prefix (a letter, then letters, digits, "_", "-")';

/** One prefix for every family, or a mapping with one per family (`{ip4: rait4x, ip6: rait6x}`, RAIT v3's convention). */
function readPrefix(r: YamlReader, at: Field): PrefixSetting['value'] {
  if (!r.isMapping(at)) return r.string(at, isInterfacePrefix, PREFIX_WHAT);
  const perFamily: Partial<Record<AddressFamily, string>> = {};
  for (const [family, f] of r.map(at, ADDRESS_FAMILIES)) perFamily[family as AddressFamily] = r.string(f, isInterfacePrefix, PREFIX_WHAT);
  return perFamily;
}

/**
 * Each family's prefix. A node with both families runs two transports whose links RAIT tells apart by
 * prefix alone (each rait.conf syncs every managed link carrying its prefix): there the families need
 * prefixes of their own, neither the start of the other. Every name must fit in 15 bytes.
 */
function interfacePrefixes(
  r: YamlReader,
  prefix: PrefixSetting,
  nodes: readonly ReadNode[],
  [, lastPort]: readonly [number, number],
): InterfacePrefixes {
  const dual = nodes.find((n) => n.node.transports.length > 1);
  const used = new Set(nodes.flatMap((n) => n.node.transports.map((t) => t.family)));
  let prefixes: InterfacePrefixes;
  if (typeof prefix.value === 'string') {
    if (dual) {
      const why = `node ${dual.node.name} has both address families, so each needs an interface prefix of its own (RAIT v3's convention): interface_prefix: {ip4: rait4x, ip6: rait6x}`;
      throw r.error(prefix.given ? prefix.at : dual.families, why);
    }
    prefixes = { ip4: prefix.value, ip6: prefix.value };
  } else {
    const given = prefix.value;
    const missing = ADDRESS_FAMILIES.filter((f) => used.has(f) && given[f] === undefined);
    if (missing.length > 0) throw r.error(prefix.at, `no prefix for ${missing.join(', ')}, which nodes use`);
    const { ip4, ip6 } = given;
    // A family no node uses names no link; it keeps the other's prefix so the managed set stays one.
    prefixes = { ip4: ip4 ?? ip6!, ip6: ip6 ?? ip4! };
    if (ip4 !== undefined && ip6 !== undefined && (ip4.startsWith(ip6) || ip6.startsWith(ip4))) {
      throw r.error(
        prefix.at,
        `"${ip4}" and "${ip6}" ${ip4 === ip6 ? 'are the same' : 'start alike'}: each family's links must carry a prefix the other's do not start with (RAIT takes every link that starts with its prefix for its own)`,
      );
    }
  }
  for (const family of ADDRESS_FAMILIES) {
    const longest = prefixes[family].length + String(lastPort).length;
    if (longest > MAX_IFNAME) {
      throw r.error(prefix.at, `"${prefixes[family]}${lastPort}" is ${longest} bytes; interface names are at most ${MAX_IFNAME}`);
    }
  }
  return prefixes;
}

function readRange(r: YamlReader, at: Field): readonly [number, number] {
  const items = r.seq(at);
  if (items.length !== 2) throw r.error(at, 'expected [first, last]');
  const lo = r.integer(items[0]!, 1, 65535);
  const hi = r.integer(items[1]!, 1, 65535);
  if (lo > hi) throw r.error(at, `first port ${lo} is above last port ${hi}`);
  return [lo, hi];
}

function readBabeld(r: YamlReader, at: Field, configDir: string, base: string): BabeldSettings {
  const b = r.map(at, BABELD_KEYS);
  return {
    enabled: entryOr(b, 'enabled', (f) => r.boolean(f), true),
    manage: entryOr(b, 'manage', (f) => r.oneOf(f, BABELD_MANAGE), 'agent'),
    template: entryOr(b, 'template', (f) => localPath(r.string(f), base), DEFAULT_BABELD_TEMPLATE),
    configPath: entryOr(b, 'config_path', (f) => remotePath(r, f), `${configDir.replace(/\/$/, '')}/babeld.conf`),
    socket: entryOr(b, 'socket', (f) => remotePath(r, f), '/run/babeld.ctl'),
    // RAIT's 20 s suits the Internet; a lab wants neighbours lost (and routed around) in seconds.
    helloInterval: entryOr(b, 'hello_interval', (f) => r.integer(f, 1, 600), 20),
  };
}

/** The ssh defaults ~/.ssh/config may override (ssh/target.ts tells them apart from chosen values). */
export const DEFAULT_SSH_USER = 'root';
export const DEFAULT_SSH_PORT = 22;
export const defaultIdentityFile = (home: string): string => join(home, '.ssh', 'id_ed25519');

function defaultSsh(): SshSettings {
  return {
    user: DEFAULT_SSH_USER,
    port: DEFAULT_SSH_PORT,
    identityFile: defaultIdentityFile(homedir()),
    knownHosts: join(homedir(), '.ssh', 'known_hosts'),
    hostKeyChecking: 'strict',
    become: false,
    connectTimeout: 10,
  };
}

/** SSH settings from `at`, each field falling back to `inherited`. */
function readSsh(r: YamlReader, at: Field, inherited: SshSettings, base: string): SshSettings {
  const s = r.map(at, SSH_KEYS);
  const ssh: SshSettings = { ...inherited };
  for (const [key, f] of s) {
    switch (key as (typeof SSH_KEYS)[number]) {
      case 'user':
        ssh.user = r.string(f, isUserName, 'user name');
        break;
      case 'port':
        ssh.port = r.integer(f, 1, 65535);
        break;
      case 'identity_file':
        ssh.identityFile = localPath(r.string(f), base);
        break;
      case 'known_hosts':
        ssh.knownHosts = localPath(r.string(f), base);
        break;
      case 'host_key_checking':
        ssh.hostKeyChecking = r.oneOf(f, HOST_KEY_CHECKING);
        break;
      case 'become':
        ssh.become = r.boolean(f);
        break;
      case 'connect_timeout':
        ssh.connectTimeout = r.integer(f, 1, 3600);
        break;
      case 'jump':
        ssh.jump = r.string(f, isJumpSpec, 'jump host (expected [user@]host[:port])');
        break;
    }
  }
  return ssh;
}

/** A node, with the fields errors about it point at. */
interface ReadNode {
  node: Node;
  /** Its address_family (or the node's own field when it gives none). */
  families: Field;
  /** Its SendPort pins, by family. */
  pins: Partial<Record<AddressFamily, Field>>;
}

const ENDPOINT_WHAT = 'endpoint (expected a hostname or an IP address, no %zone, no final dot)';

function readNode(r: YamlReader, name: string, at: Field, ssh: SshSettings, base: string): ReadNode {
  const n = r.map(at, NODE_KEYS);
  const hostField = n.get('host');
  if (!hostField) throw r.error(at, 'missing "host" (the SSH address)');
  const host = r.string(hostField, isHostOrIp, 'host (expected a hostname or an IP address)');
  const nat = entryOr(n, 'nat', (f) => r.boolean(f), false);
  const familiesField = n.get('address_family') ?? at;
  const families = n.has('address_family') ? readFamilies(r, familiesField) : (['ip4'] as AddressFamily[]);
  const endpointField = n.get('endpoint');
  // Behind NAT there is nothing peers could send to: they learn the node's address from its handshakes.
  if (nat && endpointField) throw r.error(endpointField, 'a node behind NAT (nat: true) has no endpoint peers can reach: remove it');
  const endpoints = nat ? families.map(() => null) : readEndpoints(r, endpointField ?? hostField, families, !endpointField);
  const pins = n.has('send_port') ? readPins(r, n.get('send_port')!, families) : {};
  const transports = families.map((family, i): Transport => ({
    family,
    endpoint: endpoints[i]!,
    ...(pins[family] && { sendPort: r.integer(pins[family]!, 1, 65535) }),
  }));
  const node: Node = {
    name,
    host,
    nat,
    transports,
    groups: entryOr(n, 'groups', (f) => r.seq(f).map((g) => r.string(g, isName, 'group name')), []),
    vars: entryOr(n, 'vars', (f) => readVars(r, f), {}),
    ssh: entryOr(n, 'ssh', (f) => readSsh(r, f, ssh, base), ssh),
  };
  return { node, families: familiesField, pins };
}

/** `ip4`, `ip6`, or a list of both (a dual-stack node: one transport per family). */
function readFamilies(r: YamlReader, at: Field): AddressFamily[] {
  if (!r.isList(at)) return [r.oneOf(at, ADDRESS_FAMILIES)];
  const items = r.seq(at);
  if (items.length === 0 || items.length > ADDRESS_FAMILIES.length) throw r.error(at, 'expected one or both of ip4, ip6');
  const families = items.map((f) => r.oneOf(f, ADDRESS_FAMILIES));
  if (new Set(families).size < families.length) throw r.error(at, `${families[0]} is listed twice`);
  return families;
}

/**
 * The endpoint of each family: one name resolved in every family, or one address per family. A node of
 * one family takes any single host as before (the agent sends where it says); a dual-stack node needs a
 * name, or a list with an address of each family.
 */
function readEndpoints(r: YamlReader, at: Field, families: readonly AddressFamily[], fromHost: boolean): string[] {
  if (r.isList(at)) {
    const items = r.seq(at);
    const byFamily = new Map<AddressFamily, string>();
    for (const item of items) {
      const address = r.string(
        item,
        (s) => isEndpointHost(s) && ipVersion(s) !== 0,
        'endpoint in a list (expected an IP address, no %zone)',
      );
      const family: AddressFamily = ipVersion(address) === 4 ? 'ip4' : 'ip6';
      if (!families.includes(family))
        throw r.error(item, `${address} is an ${family} address, but the node's address_family is ${families.join(', ')}`);
      if (byFamily.has(family)) throw r.error(item, `a second ${family} address: list one address per family`);
      byFamily.set(family, address);
    }
    const missing = families.filter((f) => !byFamily.has(f));
    if (missing.length > 0) throw r.error(at, `no ${missing.join(', ')} address: list one address per family of the node`);
    return families.map((f) => byFamily.get(f)!);
  }
  const host = fromHost ? r.string(at) : r.string(at, isEndpointHost, ENDPOINT_WHAT);
  if (!isEndpointHost(host)) {
    const why = host.includes('%') ? 'has an IPv6 zone' : 'ends in a dot (RAIT drops such an endpoint)';
    throw r.error(at, `host ${host} ${why}: set an endpoint peers can reach`);
  }
  const version = ipVersion(host);
  if (families.length > 1 && version !== 0) {
    const what = fromHost ? `host ${host} (the default endpoint)` : host;
    throw r.error(
      at,
      `${what} is an IPv${version} address, and the node has both address families: give a name that resolves in both, or one address per family (endpoint: [192.0.2.1, "2001:db8::1"])`,
    );
  }
  return families.map(() => host);
}

/** send_port: a number for a node of one family; one per family (`{ip4: 50001, ip6: 50002}`) for a dual-stack node. */
function readPins(r: YamlReader, at: Field, families: readonly AddressFamily[]): Partial<Record<AddressFamily, Field>> {
  if (!r.isMapping(at)) {
    if (families.length > 1)
      throw r.error(
        at,
        'the node has a transport per address family, each with its SendPort: pin them as send_port: {ip4: 50001, ip6: 50002}',
      );
    return { [families[0]!]: at };
  }
  const pins: Partial<Record<AddressFamily, Field>> = {};
  for (const [family, f] of r.map(at, ADDRESS_FAMILIES)) {
    if (!families.includes(family as AddressFamily))
      throw r.error(f, `the node has no ${family} transport (address_family: ${families.join(', ')})`);
    pins[family as AddressFamily] = f;
  }
  return pins;
}

/** Pinned ports inside the range and unique; the range holds every transport. */
function checkPorts(r: YamlReader, [lo, hi]: readonly [number, number], nodes: ReadNode[], rangeField: Field): void {
  const pinnedBy = new Map<number, string>();
  for (const { node, pins } of nodes) {
    for (const t of node.transports) {
      const pin = pins[t.family];
      if (!pin || t.sendPort === undefined) continue;
      if (t.sendPort < lo || t.sendPort > hi) throw r.error(pin, `${t.sendPort} is outside send_port_range ${lo}..${hi}`);
      const other = pinnedBy.get(t.sendPort);
      if (other) throw r.error(pin, `${t.sendPort} is already pinned by ${other}`);
      pinnedBy.set(t.sendPort, node.transports.length > 1 ? `the ${t.family} transport of node "${node.name}"` : `node "${node.name}"`);
    }
  }
  const transports = nodes.reduce((sum, n) => sum + n.node.transports.length, 0);
  if (hi - lo + 1 < transports) {
    const what = transports === nodes.length ? `${nodes.length} nodes` : `${transports} transports`;
    throw r.error(rangeField, `${what} do not fit in send_port_range ${lo}..${hi} (${hi - lo + 1} ports)`);
  }
}

/** A path on the control machine: ~ expanded, relative to the inventory's directory. */
function localPath(p: string, base: string): string {
  const expanded = p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}

/** A path on the nodes: absolute and shell-safe. */
function remotePath(r: YamlReader, at: Field): string {
  return r.string(at, isSafeAbsolutePath, 'path (absolute; letters, digits, "/", ".", "_", "+", "-" only)');
}
