// Inventory + state -> what every node should have: links, rait.conf, peers.conf, babeld.conf. Pure.
import { InputError } from '../errors.js';
import type { AddressFamily, Inventory, Node } from '../inventory/types.js';
import { sendPortOf } from '../state/send-ports.js';
import type { FleetState, NodeKeys } from '../state/types.js';
import { keySeed, linkLocal, type KeySeed } from './link-local.js';
import { peersConf, raitConf } from './rait-conf.js';
import { systemdUnits } from './units.js';
import { compileTemplate, renderTemplate, sharedScope, templateScope, type SharedScope } from './template.js';
import type { TemplateTexts } from './templates.js';
import { raitConfName, type Link, type NodeFiles, type NodePlan, type Plan } from './types.js';

/** A node with everything its peers need, computed once per node rather than once per link. */
interface Member {
  node: Node;
  keys: NodeKeys;
  seed: KeySeed;
  /** Its transports by family: what every other node's link to it in that family uses. */
  transports: Map<AddressFamily, MemberTransport>;
}

interface MemberTransport {
  sendPort: number;
  endpoint: string | null;
  /** The interface name every other node uses for its link to this one in the family. */
  ifname: string;
}

/**
 * `templates` holds template text (read by the caller); babeld's is required when babeld is enabled.
 * The template's syntax is checked here (the inventory when read, key pairs by the caller for the nodes it
 * sends to). Each node's links and files are computed when first read (a 1,000-node mesh has ~1M links and 1,000 babeld.conf renderings, while a deploy
 * --limit needs a few): call `renderFilesOf` before writing or sending anything, so an error that only
 * rendering finds (an include that fails, a filter given a bad value) still stops the command first.
 */
export function planMesh(inv: Inventory, state: FleetState, templates: TemplateTexts): Plan {
  const { mesh } = inv;
  const members: Member[] = inv.nodes.map((node) => {
    const keys = state.nodes[node.name];
    if (!keys) throw new Error(`no keys for node ${node.name}: run rait-fleet keygen`);
    const transports = new Map(
      node.transports.map((t): [AddressFamily, MemberTransport] => {
        const sendPort = sendPortOf(keys, t.family);
        return [t.family, { sendPort, endpoint: t.endpoint, ifname: mesh.interfacePrefixes[t.family] + sendPort }];
      }),
    );
    return { node, keys, seed: keySeed(keys.publicKey), transports };
  });
  const peers = peersConf(members);
  const units = systemdUnits(mesh);
  const pull = pullConfig(inv, state);
  const nodes: NodePlan[] = members.map((self) => {
    const np = { node: self.node, keys: self.keys } as NodePlan;
    memoise(np, 'links', () => linksOf(self, members, mesh.keepalive));
    memoise(np, 'files', (): NodeFiles => {
      const files = { 'peers.conf': peers, ...units } as NodeFiles;
      self.node.transports.forEach((t, i) => (files[raitConfName(i, t.family)] = raitConf(mesh, self.node, self.keys, t)));
      if (babeld) files['babeld.conf'] = babeld(np);
      if (pull) files.pull = pull(self.node.name);
      return files;
    });
    return np;
  });
  // Read only by the files getters above, after this returns.
  const babeld = mesh.babeld.enabled ? babeldRenderer(templates, mesh.babeld.template, { mesh, nodes }) : undefined;
  return { mesh, nodes };
}

/**
 * Pull mode's enrollment: the node's name (its file in the registry), the URL and the keys it trusts —
 * the current signing key, and the next one while a rotation is under way.
 */
function pullConfig(inv: Inventory, state: FleetState): ((node: string) => string) | undefined {
  const { pull } = inv.mesh;
  if (!pull) return undefined;
  const { signing } = state;
  if (!signing) throw new Error('no signing key for pull mode: run rait-fleet keygen');
  const signers = [signing.current, ...(signing.next ? [signing.next] : [])].map((k) => `signer ${k.publicKey}\n`).join('');
  return (node) => `node ${node}\nurl ${pull.url}\n${signers}`;
}

/** Computes the files of these nodes now: template errors surface here, before anything is written or sent. */
export function renderFilesOf(plan: Plan, selected: readonly Node[]): void {
  const names = new Set(selected.map((n) => n.name));
  for (const np of plan.nodes) if (names.has(np.node.name)) void np.files;
}

/** Compiles the template now (syntax errors are plan errors); renders a node's babeld.conf on demand. */
function babeldRenderer(templates: TemplateTexts, file: string, plan: Pick<Plan, 'mesh' | 'nodes'>): (np: NodePlan) => string {
  if (templates.babeld === undefined) throw new Error('babeld is enabled but no babeld template was given');
  const template = compileTemplate(templates.babeld, file);
  let shared: SharedScope | undefined;
  return (np) => {
    shared ??= sharedScope(plan);
    const text = renderTemplate(template, templateScope(np, shared));
    if (plan.mesh.babeld.manage === 'agent') checkControlSocket(text, plan.mesh.babeld.socket, file, np.node.name);
    return text;
  };
}

/**
 * The agent gives babeld its control socket on the command line (-G), but babeld reads its config
 * file last: a local-path line naming another socket would win, and the agent could no longer talk
 * to the babeld it started.
 */
function checkControlSocket(config: string, socket: string, file: string, node: string): void {
  const lines = config.split('\n');
  lines.forEach((line, i) => {
    const m = /^\s*(local-path(?:-readwrite)?)\s+(\S+)/.exec(line);
    if (m && m[2] !== socket) {
      throw new InputError(
        `the babeld.conf it renders for ${node} has "${m[1]} ${m[2]}" (line ${i + 1}), but rait-fleet runs babeld with its control socket at ` +
          `mesh.babeld.socket (${socket}): remove that line (the socket needs none) or set mesh.babeld.socket: ${m[2]}`,
        { file, field: 'mesh.babeld.template' },
      );
    }
  });
}

/** Makes `obj[key]` computed on first read, then a plain (enumerable, writable) property. */
function memoise<T extends object, K extends keyof T>(obj: T, key: K, compute: () => T[K]): void {
  Object.defineProperty(obj, key, {
    get: () => {
      const value = compute();
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
      return value;
    },
    enumerable: true,
    configurable: true,
  });
}

/**
 * One link per other node and address family the two share (RAIT: never to itself, matched by public
 * key), but none between two nodes behind NAT: neither could ever reach the other first (babel routes
 * between them through the others).
 */
function linksOf(self: Member, members: readonly Member[], keepalive: number): Link[] {
  const links: Link[] = [];
  for (const peer of members) {
    if (peer.keys.publicKey === self.keys.publicKey || (self.node.nat && peer.node.nat)) continue;
    for (const [family, own] of self.transports) {
      const there = peer.transports.get(family);
      if (!there) continue;
      links.push({
        name: there.ifname,
        peer: peer.node.name,
        family,
        peerPublicKey: peer.keys.publicKey,
        listenPort: there.sendPort,
        endpointHost: there.endpoint,
        endpointPort: own.sendPort,
        linkLocal: linkLocal(self.seed, peer.seed),
        // A node behind NAT keeps its mappings open; the public end answers what arrives.
        keepalive: self.node.nat ? keepalive : 0,
      });
    }
  }
  return links;
}
