/**
 * What the control machine sends the agent: the command line and the stdin text
 * (docs/agent-protocol.md). Pure except loadAgentScript(), which reads the built script.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { MeshSettings } from '../inventory/types.js';
import { NODE_FILES, type NodeFileName, type NodePlan } from '../mesh/types.js';
import type { RemoteMode } from './report.js';
import { SNAPSHOT_ID } from './validate.js';
import { AGENT_SCRIPT } from '../paths.js';

/** The plan file: one `key value...` line each; values never contain whitespace; `-` = empty. */
export function planFile(plan: NodePlan, mesh: MeshSettings, mode: RemoteMode): string {
  const entries: [string, ...(string | number)[]][] = [
    ['version', 3],
    // Both families' prefixes, whichever the node has: a link of either is managed, so links of a family
    // the node no longer has are still found and removed.
    ['prefix', 'ip4', mesh.interfacePrefixes.ip4],
    ['prefix', 'ip6', mesh.interfacePrefixes.ip6],
    ['group', mesh.interfaceGroup],
    ['mtu', mesh.mtu],
    ['fwmark', mesh.fwmark],
    ['isolation', mesh.isolation],
    ['interface_namespace', mesh.interfaceNamespace || '-'],
    ['transit_namespace', mesh.transitNamespace || '-'],
    ['config_dir', mesh.configDir],
    ['babeld', mesh.babeld.enabled ? 1 : 0],
    ['babeld_config', mesh.babeld.configPath || '-'],
    ['babeld_socket', mesh.babeld.socket || '-'],
    ['babeld_manage', mesh.babeld.manage],
  ];
  // A down plan says so: stored on the node, it brings nothing back when applied again.
  if (mode === 'down') entries.push(['state', 'down']);
  const lines = entries.map(([key, ...values]) => [key, ...values.map((v) => token(key, v))].join(' '));
  // down syncs to the empty set; status only reports what it finds.
  if (mode === 'deploy' || mode === 'check') {
    for (const l of plan.links) {
      // A peer behind NAT has no endpoint ("-"): the link learns it from the peer's first handshake.
      const fields = [l.name, l.listenPort, l.peerPublicKey, l.endpointHost ?? '-', l.endpointPort, l.linkLocal, l.keepalive, l.family];
      lines.push(['link', ...fields.map((v) => token(`link ${l.name}`, v))].join(' '));
    }
  }
  return lines.join('\n') + '\n';
}

function token(field: string, value: string | number): string {
  const s = String(value);
  if (s === '' || /\s/.test(s)) {
    throw new Error(`plan for the agent: ${field}: value ${JSON.stringify(s)} is empty or contains whitespace`);
  }
  return s;
}

/** The plan's files a node installs, by name (babeld.conf only with babeld): what deploy sends and a registry carries. */
export function nodeFiles(plan: NodePlan, mesh: MeshSettings): [NodeFileName, string][] {
  return NODE_FILES.flatMap((name) => {
    const text = plan.files[name];
    return text !== undefined && (name !== 'babeld.conf' || mesh.babeld.enabled) ? [[name, text] as [NodeFileName, string]] : [];
  });
}

/** The files written by rf_payload() beside the agent, by staged name. Only deploy and check carry files (and the key). */
function payloadFiles(plan: NodePlan, mesh: MeshSettings, mode: RemoteMode): [string, string][] {
  const files: [string, string][] = [['plan', planFile(plan, mesh, mode)]];
  if (mode !== 'deploy' && mode !== 'check') return files;
  files.push(...nodeFiles(plan, mesh), ['private.key', plan.keys.privateKey + '\n']);
  return files;
}

/**
 * What `sh -s` reads on the node: `rf_payload() { ... }` writing each file — the plan, the files the
 * mode needs and the agent itself — into a new private directory, then `exec sh` of that agent with
 * the mode. The node thus runs the very file deploy leaves it, and a payload cut off in transfer is an
 * unfinished function (or quote): nothing runs. Each file is one single-quoted `printf` argument:
 * printf is built into sh, so staging forks nothing, and a quote is the only character to escape.
 */
export function buildPayload(plan: NodePlan, mesh: MeshSettings, mode: RemoteMode, agentScript: string): string {
  const files: [string, string][] = [...payloadFiles(plan, mesh, mode), [AGENT_FILE, agentScript]];
  const parts = files.map(([name, text]) => `printf '%s' ${shellQuote(text)} >"$1/${name}"\n`);
  return `rf_payload() {\n${parts.join('')}}\n${RUN_STAGED}`;
}

/** One sh word holding `text` exactly: single quotes, each quote in it written '\''. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The agent's file name, in the stage and in config_dir. */
export const AGENT_FILE = 'rait-fleet-agent';

/** Stages the payload privately and hands over to the staged agent, which removes the stage when it ends. */
const RUN_STAGED = `rf_run() {
\tumask 077
\trf_stage=$(mktemp -d) || exit 1
\trf_payload "$rf_stage" || { rm -rf "$rf_stage"; exit 1; }
\texec sh "$rf_stage/${AGENT_FILE}" "$@" --stage "$rf_stage"
}
rf_run "$@"
`;

/**
 * A deploy's snapshot on the node (docs/agent-protocol.md, "Rollback"): the deploy id it is kept
 * under, and (deploy only) the seconds after which the node's switch restores it unless confirmed
 * (0: no switch).
 */
export interface SnapshotArgs {
  id: string;
  switchSeconds?: number;
}

/** The remote command line; the mode and flags are fixed words or checked values, never user input. */
export function agentCommand(mode: RemoteMode, opts: { verbose: boolean; become: boolean; snapshot?: SnapshotArgs }): string {
  const words = ['sh', '-s', '--', mode];
  if (opts.verbose) words.push('-v');
  if (opts.snapshot) {
    const { id, switchSeconds } = opts.snapshot;
    if (!SNAPSHOT_ID.test(id)) throw new Error(`not a deploy id: ${JSON.stringify(id)}`);
    words.push('--snapshot', id);
    if (switchSeconds !== undefined) {
      if (!Number.isInteger(switchSeconds) || switchSeconds < 0) throw new Error(`not a number of seconds: ${switchSeconds}`);
      words.push('--switch', String(switchSeconds));
    }
  }
  if (opts.become) words.unshift('sudo', '-n');
  return words.join(' ');
}

/** The built agent script's text. */
export function loadAgentScript(): string {
  if (!existsSync(AGENT_SCRIPT)) throw new Error(`agent script not found at ${AGENT_SCRIPT}: run npm run build`);
  return readFileSync(AGENT_SCRIPT, 'utf8');
}
