// What a lab node actually has (links, files in config_dir), and what it should have, for the fault
// and load tests. Files are read through the node's /etc overlay upper dir on the host, so a node whose
// sshd is dead or that drops every packet can still be inspected.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import TOML from '@iarna/toml';
import { labExec, type Lab, type LabNode } from '../../src/lab/index.js';
import type { FleetState } from '../../src/state/types.js';

const GROUP = '54';

/** Managed links (rait*, ifgroup 54) on a node, or in a namespace of the node's: name -> {index, mtu}. */
export async function managedLinks(lab: Lab, node: string, netns?: string): Promise<Map<string, { index: number; mtu: number }>> {
  const argv = ['ip', ...(netns ? ['-n', netns] : []), '-j', 'link', 'show', 'group', GROUP];
  const r = await labExec(lab, node, argv);
  assert.equal(r.code, 0, `${node}: ${argv.join(' ')}: ${r.stderr}`);
  // `ip -j` also lists entries without a name (link-netns peers); only named links count.
  const links = JSON.parse(r.stdout || '[]') as { ifname?: string; ifindex: number; mtu: number }[];
  return new Map(links.flatMap((l) => (l.ifname?.startsWith('rait') ? [[l.ifname, { index: l.ifindex, mtu: l.mtu }] as const] : [])));
}

/** The names a node's managed links should have: the prefix and every other lab node's SendPort, sorted. */
export function expectedLinks(lab: Lab, state: FleetState, node: string): string[] {
  return lab.nodes
    .filter((n) => n.name !== node)
    .map((n) => `rait${state.nodes[n.name]!.sendPort}`)
    .sort();
}

/** One line per managed link: "name listenPort peerKey endpoint mtu", sorted. */
export async function linkFacts(lab: Lab, node: string): Promise<string[]> {
  const run = async (argv: string[]): Promise<string> => {
    const r = await labExec(lab, node, argv);
    assert.equal(r.code, 0, `${node}: ${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const links = await managedLinks(lab, node);
  const table = (text: string): Map<string, string[]> =>
    new Map(
      text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [ifname, ...rest] = l.split('\t');
          return [ifname!, rest];
        }),
    );
  const ports = table(await run(['wg', 'show', 'all', 'listen-port']));
  const endpoints = table(await run(['wg', 'show', 'all', 'endpoints']));
  return [...links].map(([name, { mtu }]) => `${name} ${ports.get(name)?.[0]} ${endpoints.get(name)?.join(' ')} ${mtu}`).sort();
}

/** The RAIT layout: on X, link to Y listens on Y.SendPort and sends to Y.address:X.SendPort. */
export function expectedLinkFacts(lab: Lab, state: FleetState, node: string, mtu: number, peers = lab.nodes): string[] {
  const own = state.nodes[node]!;
  return peers
    .filter((p) => p.name !== node)
    .map((p) => {
      const k = state.nodes[p.name]!;
      return `rait${k.sendPort} ${k.sendPort} ${k.publicKey} ${p.address}:${own.sendPort} ${mtu}`;
    })
    .sort();
}

/** The node's /etc/rait as the host sees it (the node's /etc is an overlay with this upper dir). */
export const configDir = (node: LabNode): string => join(node.dir, 'etc', 'upper', 'rait');

const RAIT_CONFS = ['rait.conf', 'rait-ip4.conf', 'rait-ip6.conf'];
const KNOWN = [...RAIT_CONFS, 'peers.conf', 'babeld.conf', 'placement', 'plan', 'rait-fleet-agent'];

/**
 * Everything wrong with a node's config_dir: temp files, unknown names, files that do not parse or are
 * cut short (also the agent's placement record), secret files not 0600, a world-writable directory. Empty when all is well (or no dir yet).
 */
export function configDirProblems(node: LabNode): string[] {
  const dir = configDir(node);
  if (!existsSync(dir)) return [];
  const problems: string[] = [];
  if (statSync(dir).mode & 0o002) problems.push(`${dir} is world-writable`);
  for (const name of readdirSync(dir)) {
    const base = name.replace(/\.prev$/, '');
    if (!KNOWN.includes(base)) {
      problems.push(`${node.name}: unexpected file ${name}`);
      continue;
    }
    const path = join(dir, name);
    const text = readFileSync(path, 'utf8');
    if (!text.endsWith('\n')) problems.push(`${node.name}: ${name} does not end in a newline (cut short?)`);
    if (name === 'placement') {
      // The agent's record of what it made: "isolation interface_ns transit_ns prefix group".
      if (!/^(none|netns|vrf) \S+ \S+ [\w,-]+ \d+\n$/.test(text)) problems.push(`${node.name}: placement record ${JSON.stringify(text)}`);
      continue;
    }
    if (name === 'rait-fleet-agent') {
      // The agent a deploy leaves: the built script, complete and executable.
      if (!text.startsWith('#!/bin/sh\n') || !text.endsWith('main "$@"\n')) problems.push(`${node.name}: rait-fleet-agent is cut short`);
      if ((statSync(path).mode & 0o777) !== 0o755) problems.push(`${node.name}: rait-fleet-agent is not 0755`);
      continue;
    }
    if (name === 'plan') {
      // The last plan applied: the agent's plan format, no secret, owner-only like every file there.
      if (!/^version 3\n/.test(text) || /PrivateKey|private/i.test(text))
        problems.push(`${node.name}: plan record ${JSON.stringify(text.slice(0, 40))}`);
      if ((statSync(path).mode & 0o777) !== 0o600) problems.push(`${node.name}: plan is not 0600`);
      continue;
    }
    if (base === 'babeld.conf') {
      if (!/^interface rait\d+/m.test(text) && !/^default /m.test(text)) problems.push(`${node.name}: ${name} looks incomplete`);
      continue;
    }
    let doc: Record<string, unknown>;
    try {
      doc = TOML.parse(text) as Record<string, unknown>;
    } catch (e) {
      problems.push(`${node.name}: ${name} does not parse: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (RAIT_CONFS.includes(base)) {
      for (const key of ['PrivateKey', 'SendPort', 'InterfacePrefix', 'MTU'])
        if (!(key in doc)) problems.push(`${node.name}: ${name} lacks ${key}`);
      if ((statSync(path).mode & 0o777) !== 0o600)
        problems.push(`${node.name}: ${name} has mode ${(statSync(path).mode & 0o777).toString(8)}`);
    }
    if (base === 'peers.conf' && !Array.isArray(doc.Peers)) problems.push(`${node.name}: ${name} has no [[Peers]]`);
  }
  return problems;
}

/** The MTU a node's rait.conf asks for, or undefined when it has none yet. */
export function configuredMtu(node: LabNode, file = 'rait.conf'): number | undefined {
  const path = join(configDir(node), file);
  if (!existsSync(path)) return undefined;
  return (TOML.parse(readFileSync(path, 'utf8')) as { MTU?: number }).MTU;
}
