// Liquid templates (babeld.conf and user templates) and the variables they see. Pure: text in, text out.
import type * as LiquidJs from 'liquidjs';
import type { Liquid, Template } from 'liquidjs';
import { requireCjs } from '../cjs.js';
import { InputError } from '../errors.js';
import type { MeshSettings } from '../inventory/types.js';
import { sendPortOf } from '../state/send-ports.js';
import type { Link, NodePlan, Plan } from './types.js';

/** A node as templates see it: no private key. send_port, address_family and endpoint are its first transport's. */
interface TemplateNode {
  name: string;
  vars: Record<string, unknown>;
  send_port: number;
  public_key: string;
  address_family: string;
  /** null behind NAT. */
  endpoint: string | null;
  /** One per address family of the node. */
  transports: TemplateTransport[];
  nat: boolean;
  groups: string[];
}

interface TemplateTransport {
  address_family: string;
  send_port: number;
  endpoint: string | null;
}

interface TemplateLink {
  name: string;
  peer: string;
  address_family: string;
  peer_public_key: string;
  link_local: string;
  listen_port: number;
  endpoint_host: string | null;
  keepalive: number;
  endpoint_port: number;
}

interface TemplateScope {
  node: TemplateNode;
  links: TemplateLink[];
  /** Interface names, for templates written for RAIT. */
  LinkList: string[];
  nodes: TemplateNode[];
  mesh: Record<string, unknown>;
}

interface CompiledTemplate {
  /** Path of the template, for errors. */
  file: string;
  parsed: Template[];
}

let liquid: Liquid | undefined;

/** The template engine, loaded when the first template is compiled (babeld disabled: never). */
function engine(): Liquid {
  // Without a locale, liquidjs asks Intl.DateTimeFormat for the default one, which loads ICU's date
  // and time zone data: 12 ms of every deploy. PluralRules resolves the same default locale in 0.3 ms
  // (date filters still format through Intl.DateTimeFormat with it).
  liquid ??= new (requireCjs('liquidjs') as typeof LiquidJs).Liquid({
    strictFilters: true,
    locale: new Intl.PluralRules().resolvedOptions().locale,
  });
  return liquid;
}

export function compileTemplate(text: string, file: string): CompiledTemplate {
  try {
    return { file, parsed: engine().parse(text, file) };
  } catch (err) {
    throw new InputError(`template error: ${(err as Error).message}`, { file });
  }
}

export function renderTemplate(template: CompiledTemplate, scope: TemplateScope): string {
  try {
    const text = engine().renderSync(template.parsed, scope) as string;
    // liquidjs concatenates its output: a rope of thousands of pieces per file at 1,000 nodes.
    // Reading a character makes V8 flatten it in place (a third of a rendered plan's memory).
    text.charCodeAt(0);
    return text;
  } catch (err) {
    throw new InputError(`template error for node ${scope.node.name}: ${(err as Error).message}`, { file: template.file });
  }
}

/** Variables every node's templates share: build once per plan. */
export interface SharedScope {
  nodes: TemplateNode[];
  byName: Map<string, TemplateNode>;
  mesh: Record<string, unknown>;
}

export function sharedScope(plan: Pick<Plan, 'mesh' | 'nodes'>): SharedScope {
  const nodes = plan.nodes.map(({ node, keys }): TemplateNode => {
    const transports = node.transports.map((t) => ({
      address_family: t.family,
      send_port: sendPortOf(keys, t.family),
      endpoint: t.endpoint,
    }));
    return {
      name: node.name,
      vars: node.vars,
      ...transports[0]!,
      public_key: keys.publicKey,
      transports,
      nat: node.nat,
      groups: node.groups,
    };
  });
  return { nodes, byName: new Map(nodes.map((n) => [n.name, n])), mesh: templateMesh(plan.mesh) };
}

/** The variables for one node's templates. */
export function templateScope(self: NodePlan, shared: SharedScope): TemplateScope {
  let links: TemplateLink[] | undefined;
  return {
    node: shared.byName.get(self.node.name)!,
    // Built only when a template reads it (the shipped one reads LinkList): ~1M objects at 1,000 nodes.
    get links() {
      return (links ??= self.links.map(templateLink));
    },
    LinkList: self.links.map((l) => l.name),
    nodes: shared.nodes,
    mesh: shared.mesh,
  };
}

function templateMesh(mesh: MeshSettings): Record<string, unknown> {
  return {
    // As the inventory gives it: one prefix, or one per family.
    interface_prefix:
      mesh.interfacePrefixes.ip4 === mesh.interfacePrefixes.ip6 ? mesh.interfacePrefixes.ip4 : { ...mesh.interfacePrefixes },
    interface_group: mesh.interfaceGroup,
    mtu: mesh.mtu,
    fwmark: mesh.fwmark,
    send_port_range: [...mesh.sendPortRange],
    isolation: mesh.isolation,
    interface_namespace: mesh.interfaceNamespace,
    transit_namespace: mesh.transitNamespace,
    config_dir: mesh.configDir,
    babeld: {
      enabled: mesh.babeld.enabled,
      manage: mesh.babeld.manage,
      config_path: mesh.babeld.configPath,
      socket: mesh.babeld.socket,
      hello_interval: mesh.babeld.helloInterval,
    },
  };
}

function templateLink(l: Link): TemplateLink {
  return {
    name: l.name,
    peer: l.peer,
    address_family: l.family,
    peer_public_key: l.peerPublicKey,
    link_local: l.linkLocal,
    listen_port: l.listenPort,
    endpoint_host: l.endpointHost,
    keepalive: l.keepalive,
    endpoint_port: l.endpointPort,
  };
}
