// Inventory + state -> what every node should have: links, rait.conf, peers.conf, babeld.conf. Pure.
import type { Inventory, Node } from '../inventory/types.js';
import type { FleetState, NodeKeys } from '../state/types.js';
import { keySeed, linkLocal, type KeySeed } from './link-local.js';
import { peersConf, raitConf } from './rait-conf.js';
import { checkRoutedVars } from './routed-vars.js';
import { compileTemplate, renderTemplate, sharedScope, templateScope } from './template.js';
import type { TemplateTexts } from './templates.js';
import type { Link, NodePlan, Plan } from './types.js';

/** A node with everything its peers need, computed once per node rather than once per link. */
interface Member {
  node: Node;
  keys: NodeKeys;
  seed: KeySeed;
  /** The interface name every other node uses for its link to this one. */
  ifname: string;
}

/** `templates` holds template text (read by the caller); babeld's is required when babeld is enabled. */
export function planMesh(inv: Inventory, state: FleetState, templates: TemplateTexts): Plan {
  const { mesh } = inv;
  const members: Member[] = inv.nodes.map((node) => {
    checkRoutedVars(node, inv.path);
    const keys = state.nodes[node.name];
    if (!keys) throw new Error(`no keys for node ${node.name}: run rait-fleet keygen`);
    return { node, keys, seed: keySeed(keys.publicKey), ifname: mesh.interfacePrefix + keys.sendPort };
  });
  const peers = peersConf(members);
  const nodes: NodePlan[] = members.map((self) => ({
    node: self.node,
    keys: self.keys,
    links: linksOf(self, members),
    files: { 'rait.conf': raitConf(mesh, self.node, self.keys), 'peers.conf': peers },
  }));
  if (mesh.babeld.enabled) {
    if (templates.babeld === undefined) throw new Error('babeld is enabled but no babeld template was given');
    const template = compileTemplate(templates.babeld, mesh.babeld.template);
    const shared = sharedScope({ mesh, nodes });
    for (const np of nodes) {
      const text = renderTemplate(template, templateScope(np, shared));
      // liquidjs concatenates its output: a rope of thousands of pieces per file at 1,000 nodes.
      // Reading a character makes V8 flatten it in place (a third of the plan's memory there).
      text.charCodeAt(0);
      np.files['babeld.conf'] = text;
    }
  }
  return { mesh, nodes };
}

/** One link per other node of the same address family (RAIT: never to itself, matched by public key). */
function linksOf(self: Member, members: readonly Member[]): Link[] {
  const links: Link[] = [];
  for (const peer of members) {
    if (peer.node.addressFamily !== self.node.addressFamily || peer.keys.publicKey === self.keys.publicKey) continue;
    links.push({
      name: peer.ifname,
      peer: peer.node.name,
      peerPublicKey: peer.keys.publicKey,
      listenPort: peer.keys.sendPort,
      endpointHost: peer.node.endpoint,
      endpointPort: self.keys.sendPort,
      linkLocal: linkLocal(self.seed, peer.seed),
    });
  }
  return links;
}
