/** A small hand-made node plan for the agent tests (keys are throwaway test values). */
import type { Node } from '../../src/inventory/types.js';
import type { NodePlan } from '../../src/mesh/types.js';

export const PRIVATE_KEY = 'mI+Kh0lBGwH7oCUAGts8syZ6Ugg61HZsVa0E7ACgr1o=';
export const PEER_KEYS = ['m36ckFWmRUH2GrD+eZLyDrMmPX465/pvOPCcg5vDByE=', 'WE86HxPBfqsKTc7q+DOxufhGVMjC4/LYqxWcLMeNwyE='];

export function samplePlan(files: Partial<NodePlan['files']> = {}): NodePlan {
  const node = { name: 'n1', host: '10.0.0.1', transports: [{ family: 'ip4', endpoint: '10.0.0.1' }] } as unknown as Node;
  return {
    node,
    keys: { privateKey: PRIVATE_KEY, publicKey: 'cGGjRkcnlaljzscz5h0JQFdtORC3n6Fw1OGvmZHMbUY=', sendPort: 50001 },
    links: PEER_KEYS.map((key, i) => ({
      name: `rait5000${i + 2}`,
      peer: `n${i + 2}`,
      family: 'ip4' as const,
      peerPublicKey: key,
      listenPort: 50002 + i,
      endpointHost: `10.0.0.${i + 2}`,
      endpointPort: 50001,
      linkLocal: `fe80::1:${i + 2}/64`,
      keepalive: 0,
    })),
    files: {
      'rait.conf': `PrivateKey = "${PRIVATE_KEY}"\nSendPort = 50001\n`,
      'peers.conf': `[[Peers]]\nPublicKey = "${PEER_KEYS[0]}"\n`,
      'babeld.conf': 'local-path-readwrite /run/babeld.ctl\ninterface rait50002\ninterface rait50003\n',
      'rait-fleet.service': '[Service]\nExecStart=/etc/rait/rait-fleet-agent apply --boot\n',
      ...files,
    },
  };
}
