// Hand-made plans and agent status replies for the status tests: a literal full mesh per address
// family, built the RAIT way (ListenPort = peer's SendPort, endpoint port = own SendPort).
import { createHash } from 'node:crypto';
import type { AddressFamily, Node, SshSettings } from '../../src/inventory/types.js';
import type { Link, NodePlan, Plan } from '../../src/mesh/types.js';
import type { StatusReport } from '../../src/agent/report.js';
import type { NodeProbe } from '../../src/status/types.js';
import { systemdUnits } from '../../src/mesh/units.js';
import { sampleMesh } from '../fixtures/mesh-settings.js';

const ssh: SshSettings = {
  user: 'root',
  port: 22,
  identityFile: '/root/.ssh/id_ed25519',
  knownHosts: '/root/.ssh/known_hosts',
  hostKeyChecking: 'strict',
  become: false,
  connectTimeout: 10,
};

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
export const privateKeyOf = (i: number): string => key(0x80 + i);
const publicKeyOf = (i: number): string => key(0x10 + i);

/**
 * Nodes named by `names`, `n<i>` get SendPort 50000+i (and 50100+i for the ip6 transport of a dual-stack
 * node, whose ip6 links are named rait6x…); `families[i]` defaults to ip4, a list makes the node
 * dual-stack; `nat` names the nodes behind NAT.
 */
export function makePlan(
  names: string[],
  o: { families?: (AddressFamily | AddressFamily[])[]; babeld?: boolean; nat?: string[] } = {},
): Plan {
  const babeld = o.babeld ?? true;
  const nodes: Node[] = names.map((name, i) => ({
    name,
    host: `${name}.example.org`,
    nat: o.nat?.includes(name) ?? false,
    transports: [o.families?.[i] ?? 'ip4']
      .flat()
      .map((family) => ({ family, endpoint: o.nat?.includes(name) ? null : `${name}.example.org` })),
    groups: [],
    vars: {},
    ssh,
  }));
  const dual = (n: Node): boolean => n.transports.length > 1;
  const sendPort = (i: number, family: AddressFamily = 'ip4'): number => (family === 'ip6' && dual(nodes[i]!) ? 50101 : 50001) + i;
  const plans: NodePlan[] = nodes.map((node, i) => {
    const links: Link[] = nodes.flatMap((peer, j) =>
      j === i || (peer.nat && node.nat)
        ? []
        : node.transports
            .filter((t) => peer.transports.some((p) => p.family === t.family))
            .map((t) => ({
              name: `${t.family === 'ip6' && dual(peer) ? 'rait6x' : 'rait'}${sendPort(j, t.family)}`,
              peer: peer.name,
              family: t.family,
              peerPublicKey: publicKeyOf(j),
              listenPort: sendPort(j, t.family),
              endpointHost: peer.transports[0]!.endpoint,
              endpointPort: sendPort(i, t.family),
              linkLocal: `fe80::${i + 1}:${j + 1}/64`,
              keepalive: node.nat ? 25 : 0,
            })),
    );
    const files = {
      'rait.conf': `PrivateKey = "${privateKeyOf(i)}"\nSendPort = ${sendPort(i)}\n`,
      'peers.conf': links.map((l) => `[[Peers]]\nPublicKey = "${l.peerPublicKey}"\n`).join(''),
      ...(babeld ? { 'babeld.conf': links.map((l) => `interface ${l.name}\n`).join('') } : {}),
      ...systemdUnits(sampleMesh()),
    };
    const keys = {
      privateKey: privateKeyOf(i),
      publicKey: publicKeyOf(i),
      sendPort: sendPort(i),
      ...(dual(node) && { sendPortIp6: sendPort(i, 'ip6') }),
    };
    return { node, keys, links, files };
  });
  return { mesh: sampleMesh({ babeld: { enabled: babeld } }), nodes: plans };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What a healthy node that runs exactly its plan answers: fresh handshakes, a neighbour per link. */
function healthyReport(plan: Plan, name: string): StatusReport {
  const np = plan.nodes.find((n) => n.node.name === name)!;
  return {
    agent: 1,
    mode: 'status',
    ok: true,
    wireguard: 'wireguard-go',
    versions: { wg: 'v1.0.20210914', babeld: '1.12.1', kernel: '6.1.0' },
    configHashes: Object.fromEntries(Object.entries(np.files).map(([file, text]) => [file, sha256(text)])),
    links: np.links.map((l) => ({
      name: l.name,
      publicKey: l.peerPublicKey,
      listenPort: l.listenPort,
      endpoint: `192.0.2.${l.endpointPort % 250}:${l.endpointPort}`,
      handshakeAge: 12,
      rxBytes: 1000,
      txBytes: 2000,
      mtu: 1400,
      up: true,
    })),
    linkErrors: {},
    persistence: { via: 'systemd', enabled: true, lastRun: null, lastKind: null, healsChanged: 0, lastHealChange: '' },
    babel: {
      running: plan.mesh.babeld.enabled,
      // The agent's babeld runs the deployed config.
      configHash: np.files['babeld.conf'] === undefined ? null : sha256(np.files['babeld.conf']),
      neighbours: plan.mesh.babeld.enabled
        ? np.links.map((l) => ({
            interface: l.name,
            address: l.linkLocal.replace(/\/64$/, ''),
            rxcost: 96,
            txcost: 96,
            cost: 96,
            rtt: 1.5,
            reach: 'ffff',
          }))
        : [],
      routes: np.links.length,
    },
  };
}

/** Every node healthy, then `edit` changes what some of them say and `instead` replaces some replies. */
export function probesFor(
  plan: Plan,
  edit: (name: string, r: StatusReport) => void = () => {},
  instead: Record<string, NodeProbe> = {},
): Map<string, NodeProbe> {
  return new Map(
    plan.nodes.map((np) => {
      const report = healthyReport(plan, np.node.name);
      edit(np.node.name, report);
      return [np.node.name, instead[np.node.name] ?? { kind: 'report', report }];
    }),
  );
}

export const names = (plan: Plan): string[] => plan.nodes.map((np) => np.node.name);
