// The registry publish writes and nodes pull (docs/pull-mode.md is the contract): one signed file per
// node holding its whole public plan, and an index of the fleet with a detached signature. Pure.
import { nodeFiles, planFile } from '../agent/payload.js';
import { redactSecrets } from '../mesh/redact.js';
import { sendPortOf } from '../state/send-ports.js';
import { PULL_FILE, type NodePlan, type Plan } from '../mesh/types.js';

/** The first word of a node's registry file, and of the fleet's index, with the format's version. */
export const REGISTRY_MAGIC = 'rait-fleet-registry';
export const REGISTRY_VERSION = 1;

/** What every registry file says about the publication: inside the signed content. */
export interface Publication {
  /** Grows with every publish: a node refuses a lower one. */
  serial: number;
  /** Unix seconds. */
  published: number;
  /** Unix seconds: a node refuses the registry after this. */
  expires: number;
  /** The public key (base64) that signs it. */
  signer: string;
  /** The key that will sign later registries (rotation), trusted from this one on. */
  nextSigner?: string;
}

function header(p: Publication): string[] {
  return [
    `serial ${p.serial}`,
    `published ${p.published}`,
    `expires ${p.expires}`,
    `signer ${p.signer}`,
    ...(p.nextSigner ? [`next_signer ${p.nextSigner}`] : []),
  ];
}

/**
 * The signed content of one node's registry file: the publication, the node's name, then each file of
 * its plan as `file NAME LINES NEWLINE` and LINES lines (NEWLINE 0: the last has no newline), then
 * `end`. Each rait.conf (a dual-stack node has two) comes without the private key (`PrivateKey = "<redacted>"`: the node puts its own
 * back); the pull file is the node's enrollment, which only deploy writes.
 */
export function nodeRegistry(np: NodePlan, plan: Plan, p: Publication): string {
  const files: [string, string][] = [['plan', planFile(np, plan.mesh, 'deploy')]];
  for (const [name, text] of nodeFiles(np, plan.mesh)) {
    if (name === PULL_FILE) continue;
    // Every rait.conf (one per transport) holds the key; the other files never do.
    files.push([name, redactSecrets(text, [np.keys.privateKey])]);
  }
  const parts = [`registry ${REGISTRY_VERSION}\nnode ${np.node.name}\n${header(p).join('\n')}\n`];
  for (const [name, text] of files) parts.push(fileSection(name, text));
  parts.push('end\n');
  const body = parts.join('');
  // Structurally impossible; checked because a leak here would publish a key to the world.
  if (body.includes(np.keys.privateKey)) throw new Error(`registry of ${np.node.name} would hold its private key`);
  return body;
}

function fileSection(name: string, text: string): string {
  if (text === '') return `file ${name} 0 1\n`;
  const newline = text.endsWith('\n');
  const lines = (newline ? text.slice(0, -1) : text).split('\n').length;
  return `file ${name} ${lines} ${newline ? 1 : 0}\n${text}${newline ? '' : '\n'}`;
}

/** A node's registry file: the signature (base64 Ed25519 of `body`'s bytes) on the first line, then `body`. */
export function envelope(body: string, signature: string): string {
  return `${REGISTRY_MAGIC} ${REGISTRY_VERSION} ${signature}\n${body}`;
}

/**
 * The fleet's index (`registry`, signed by `registry.sig`): the publication, the mesh settings (an
 * `interface_prefix FAMILY PREFIX` line per family) and one line per transport of a node — name,
 * public key, SendPort, address family, endpoint (`-` behind NAT); a dual-stack node has two. Nodes
 * do not read it (their own file has all they need); people and monitoring do.
 */
export function fleetIndex(plan: Plan, p: Publication): string {
  const { mesh } = plan;
  const settings: [string, string | number][] = [
    ...Object.entries(mesh.interfacePrefixes).map(([family, prefix]): [string, string] => ['interface_prefix', `${family} ${prefix}`]),
    ['interface_group', mesh.interfaceGroup],
    ['mtu', mesh.mtu],
    ['fwmark', mesh.fwmark],
    ['isolation', mesh.isolation],
    ['keepalive', mesh.keepalive],
    ['babeld', mesh.babeld.enabled ? 1 : 0],
  ];
  const lines = [`${REGISTRY_MAGIC} ${REGISTRY_VERSION}`, ...header(p), ...settings.map(([k, v]) => `mesh ${k} ${v}`)];
  for (const { node, keys } of plan.nodes) {
    for (const t of node.transports) {
      lines.push(`node ${node.name} ${keys.publicKey} ${sendPortOf(keys, t.family)} ${t.family} ${t.endpoint ?? '-'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
