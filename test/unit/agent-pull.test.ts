// Pull mode on a made-up node (issue 16): the agent enrolled by a deploy fetches its registry file
// (a fake curl serving a directory), verifies it with the real openssl, refuses a replayed, tampered,
// foreign, expired or misdirected one with no change made, and applies a good one through the same
// steps as a deploy. No root, no network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyReport, StatusReport } from '../../src/agent/report.js';
import { parseInventory } from '../../src/inventory/load.js';
import { planMesh } from '../../src/mesh/plan.js';
import type { Plan } from '../../src/mesh/types.js';
import { envelope, nodeRegistry, type Publication } from '../../src/registry/format.js';
import { ensureKeys } from '../../src/state/allocate.js';
import { sendPortOf } from '../../src/state/send-ports.js';
import { generateSigningKey, signDetached } from '../../src/state/signing.js';
import type { SigningKey } from '../../src/state/types.js';
import { escapeRegExp } from '../fixtures/cli.js';
import { MadeUpNode, type NodeSetup } from './agent-harness.js';
import { link, state } from './recorded-node.js';

const URL_BASE = 'http://registry.test/rait';
const key = generateSigningKey();
const next = generateSigningKey();
const now = (): number => Math.floor(Date.now() / 1000);

/** The recorded lab's fleet (n1 … n4 by default), with config_dir on the made-up node and pull mode. */
function fleet(node: MadeUpNode, nodes = [1, 2, 3, 4], signing = { current: key, serial: 0, nextNamed: 0 }): Plan {
  const lines = nodes.map((i) => `  n${i}: { host: 10.231.250.${i} }`).join('\n');
  const mesh = `mesh:\n  babeld: { enabled: false }\n  config_dir: ${node.configDir}\n  pull: { url: "${URL_BASE}/" }\n`;
  return planMesh(parseInventory('/facts/inventory.yaml', `${mesh}nodes:\n${lines}\n`), { ...state, signing }, {});
}

/** The same fleet with n1 and n2 dual-stack (issue 17): a second transport, its own prefix and rait.conf. */
function dualFleet(node: MadeUpNode): Plan {
  const inv = parseInventory(
    '/facts/dual.yaml',
    [
      'mesh:',
      '  babeld: { enabled: false }',
      `  config_dir: ${node.configDir}`,
      `  pull: { url: "${URL_BASE}/" }`,
      '  interface_prefix: { ip4: rait, ip6: wg6x }',
      'nodes:',
      '  n1: { host: 10.231.250.1, address_family: [ip4, ip6], endpoint: [10.231.250.1, "fd00::1"] }',
      '  n2: { host: 10.231.250.2, address_family: [ip4, ip6], endpoint: [10.231.250.2, "fd00::2"] }',
      '  n3: { host: 10.231.250.3 }',
      '  n4: { host: 10.231.250.4 }',
    ].join('\n'),
  );
  return planMesh(inv, ensureKeys(inv, { ...state, signing: { current: key, serial: 0, nextNamed: 0 } }).state, {});
}

interface Registry {
  serial: number;
  /** Default: the plan's n1. */
  node?: string;
  by?: SigningKey;
  next?: SigningKey;
  expires?: number;
}

/** n1's registry file (or `node`'s) of `plan`, signed by `by`. */
function registryFile(plan: Plan, r: Registry): string {
  const by = r.by ?? key;
  const p: Publication = {
    serial: r.serial,
    published: now() - 10,
    expires: r.expires ?? now() + 3600,
    signer: by.publicKey,
    ...(r.next && { nextSigner: r.next.publicKey }),
  };
  const np = plan.nodes.find((n) => n.node.name === (r.node ?? 'n1'))!;
  const body = nodeRegistry(np, plan, p);
  return envelope(body, signDetached(by, Buffer.from(body)));
}

/** What n1's curl gets from the registry URL. */
function serve(node: MadeUpNode, text: string): void {
  mkdirSync(join(node.web, 'rait', 'nodes'), { recursive: true });
  writeFileSync(join(node.web, 'rait', 'nodes', 'n1'), text);
}

/** n1 of the recorded lab with its links in place, enrolled for pull by a deploy of its fleet. */
function enrolled(setup: NodeSetup = {}): MadeUpNode {
  const node = new MadeUpNode({ facts: { here: 'deployed' }, ...setup });
  const plan = fleet(node);
  const r = node.run<ApplyReport>({ mesh: plan.mesh, plan: plan.nodes[0]! });
  assert.equal(r.report.ok, true, r.report.error);
  return node;
}

const pull = (node: MadeUpNode) => node.resident<ApplyReport>(['pull', '-v']);
const pullConf = (node: MadeUpNode): string => readFileSync(join(node.configDir, 'pull'), 'utf8');
const changeLines = (text: string): string[] => text.split('\n').filter(Boolean);

/** Refused: exit 1, the reason in the report, and nothing changed on the node. */
function refused(node: MadeUpNode, reason: RegExp): void {
  const before = { conf: pullConf(node), held: readFileSync(join(node.stateDir, 'pull', 'registry'), 'utf8') };
  const r = pull(node);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.report.ok, false);
  assert.match(r.report.error!, /^registry refused, links untouched: /);
  assert.match(r.report.error!, reason);
  assert.deepEqual(changeLines(r.changes), [], 'a refused registry changes nothing');
  assert.equal(pullConf(node), before.conf);
  assert.equal(readFileSync(join(node.stateDir, 'pull', 'registry'), 'utf8'), before.held);
  const status = node.resident<StatusReport>(['status']).report;
  assert.match(status.pull!.lastError, reason);
}

describe('pull mode on a made-up node', () => {
  it('deploy enrolls the node: the pull file names it, the URL and the signing key; systemd gets the pull timer', () => {
    const node = new MadeUpNode({ facts: { here: 'deployed' }, systemd: true });
    try {
      const plan = fleet(node);
      const r = node.run<ApplyReport>({ mesh: plan.mesh, plan: plan.nodes[0]! });
      assert.equal(r.report.ok, true, r.report.error);
      assert.equal(pullConf(node), `node n1\nurl ${URL_BASE}\nsigner ${key.publicKey}\n`);
      assert.ok(changeLines(r.changes).includes('systemctl enable --now rait-fleet-pull.timer'), r.changes);
      const status = node.resident<StatusReport>(['status']).report;
      assert.deepEqual(status.pull, { serial: null, published: null, expires: null, lastAttempt: null, lastError: '' });
    } finally {
      node.remove();
    }
  });

  it('a good registry is verified and applied like a deploy; the same one again is a no-op; a newer one changes the links', () => {
    const node = enrolled();
    try {
      const plan = fleet(node);
      serve(node, registryFile(plan, { serial: 1 }));
      const first = pull(node);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.report.mode, 'pull');
      assert.equal(first.report.ok, true, first.report.error);
      assert.deepEqual(changeLines(first.changes), [], 'the plan it had: nothing to change');
      assert.deepEqual(first.report.links.kept.sort(), Object.values(link).sort());
      assert.match(first.stderr, /openssl pkeyutl -verify/);
      // rait.conf: the registry's, with this node's own key put back: what a deploy writes.
      assert.equal(readFileSync(join(node.configDir, 'rait.conf'), 'utf8'), plan.nodes[0]!.files['rait.conf']);
      let status = node.resident<StatusReport>(['status']).report;
      assert.equal(status.pull!.serial, 1);
      assert.equal(status.pull!.lastError, '');
      assert.equal(status.persistence.lastKind, 'pull');

      const again = pull(node);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /registry serial 1: already applied/);
      assert.deepEqual(again.queries.split('\n').filter(Boolean), [
        `curl -fsS --max-time 60 --max-filesize 67108864 -o ${again.queries.split(' -o ')[1]!.split(' ')[0]} ${URL_BASE}/nodes/n1`,
      ]);

      // n4 leaves the fleet: its link goes, and peers.conf follows.
      const smaller = fleet(node, [1, 2, 3]);
      serve(node, registryFile(smaller, { serial: 2 }));
      const second = pull(node);
      assert.equal(second.status, 0, second.stderr);
      assert.deepEqual(second.report.links.removed, [link.n4]);
      assert.equal(readFileSync(join(node.configDir, 'peers.conf'), 'utf8'), smaller.nodes[0]!.files['peers.conf']);
      assert.doesNotMatch(readFileSync(join(node.configDir, 'plan'), 'utf8'), new RegExp(link.n4));
      status = node.resident<StatusReport>(['status']).report;
      assert.equal(status.pull!.serial, 2);
    } finally {
      node.remove();
    }
  });

  it('the registry it runs, fetched again, costs a cmp, the time and the record of the attempt: no verify, no apply', () => {
    // Not cat: the fake curl uses it.
    const node = enrolled({ spy: ['mktemp', 'cmp', 'date', 'mv', 'sed', 'awk', 'openssl', 'tr', 'cksum', 'head'] });
    try {
      serve(node, registryFile(fleet(node), { serial: 1 }));
      assert.equal(pull(node).status, 0);
      const again = pull(node);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /registry serial 1: already applied/);
      assert.deepEqual(
        changeLines(again.spied).map((l) => l.split(' ')[0]),
        ['mktemp', 'cmp', 'date', 'mv'],
      );
      // A deploy that changes nothing on an enrolled node compares its pull file in the one cksum too.
      const plan = fleet(node);
      const deploy = node.run<ApplyReport>({ mesh: plan.mesh, plan: plan.nodes[0]! });
      assert.equal(deploy.report.ok, true, deploy.report.error);
      assert.deepEqual(
        changeLines(deploy.spied)
          .map((l) => l.split(' ')[0])
          .filter((tool) => ['cksum', 'cmp', 'sed', 'date', 'openssl'].includes(tool!)),
        ['cksum'],
      );
    } finally {
      node.remove();
    }
  });

  it('refuses a replayed, tampered, foreign, expired or misdirected registry, with links untouched', () => {
    const node = enrolled();
    try {
      const plan = fleet(node);
      const old = registryFile(plan, { serial: 4 });
      serve(node, registryFile(plan, { serial: 5 }));
      assert.equal(pull(node).status, 0);
      const smaller = fleet(node, [1, 2, 3]);

      serve(node, old);
      refused(node, /serial 4 is not newer than serial 5, which this node runs/);
      serve(node, registryFile(smaller, { serial: 5 }));
      refused(node, /serial 5 is not newer than serial 5/);
      const good = registryFile(smaller, { serial: 6 });
      serve(node, good.replace(`link ${link.n2} `, `link ${link.n3} `));
      refused(node, /its signature does not verify with/);
      const stranger = generateSigningKey();
      serve(node, registryFile(smaller, { serial: 6, by: stranger }));
      refused(node, new RegExp(`signed by ${escapeRegExp(stranger.publicKey)}, a key this node does not trust`));
      // Signed by a stranger, claiming to be signed by the fleet's key.
      const forged = registryFile(smaller, { serial: 6, by: stranger }).replace(`signer ${stranger.publicKey}`, `signer ${key.publicKey}`);
      serve(node, forged);
      refused(node, /its signature does not verify/);
      serve(node, registryFile(smaller, { serial: 6, expires: now() - 7200 }));
      refused(node, /registry serial 6 expired 2 h ago/);
      serve(node, registryFile(smaller, { serial: 6, node: 'n2' }));
      refused(node, /it is the registry of node n2, not of n1/);
      serve(node, 'garbage\n');
      refused(node, /is not a rait-fleet registry file/);
      serve(node, good.slice(0, good.length - 200));
      refused(node, /its content is malformed|does not verify/);
      unlinkSync(join(node.web, 'rait', 'nodes', 'n1'));
      refused(node, /cannot fetch http:\/\/registry\.test\/rait\/nodes\/n1: curl: \(22\) .*404 \(it keeps running registry serial 5\)/);

      // After all that, the good one is taken.
      serve(node, good);
      const r = pull(node);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.report.links.removed, [link.n4]);
    } finally {
      node.remove();
    }
  });

  it('signing key rotation: the next key named by a registry is trusted, and after the switch the old one no longer', () => {
    const node = enrolled();
    try {
      const plan = fleet(node);
      serve(node, registryFile(plan, { serial: 1, next }));
      assert.equal(pull(node).status, 0);
      assert.equal(pullConf(node), `node n1\nurl ${URL_BASE}\nsigner ${key.publicKey}\nsigner ${next.publicKey}\n`);
      serve(node, registryFile(plan, { serial: 2, by: next }));
      const switched = pull(node);
      assert.equal(switched.status, 0, switched.report.error);
      assert.equal(pullConf(node), `node n1\nurl ${URL_BASE}\nsigner ${next.publicKey}\n`);
      serve(node, registryFile(plan, { serial: 3 }));
      refused(node, /a key this node does not trust/);
    } finally {
      node.remove();
    }
  });

  it('refuses clearly without OpenSSL 1.1.1, without curl and wget, and when not enrolled', () => {
    const node = enrolled();
    try {
      const plan = fleet(node);
      serve(node, registryFile(plan, { serial: 1 }));
      const openssl = join(node.dir, 'bin', 'openssl');
      unlinkSync(openssl);
      writeFileSync(openssl, '#!/bin/sh\necho "OpenSSL 1.0.2k-fips  26 Jan 2017"\n', { mode: 0o755 });
      let r = pull(node);
      assert.equal(r.status, 1);
      assert.match(
        r.report.error!,
        /OpenSSL 1\.0\.2k-fips {2}26 Jan 2017 cannot verify Ed25519 signatures .* install OpenSSL 1\.1\.1 or later/,
      );
      unlinkSync(openssl);
      r = pull(node);
      assert.match(r.report.error!, /missing program openssl, which verifies the registry's signature: install package openssl/);
      symlinkSync('/usr/bin/openssl', openssl);
      unlinkSync(join(node.dir, 'bin', 'curl'));
      r = pull(node);
      assert.match(r.report.error!, /neither curl nor wget is installed: install package curl/);
      unlinkSync(join(node.configDir, 'pull'));
      r = pull(node);
      assert.equal(r.status, 1);
      assert.match(r.report.error!, /not enrolled for pull mode/);
    } finally {
      node.remove();
    }
  });

  it('a registry that makes the node dual-stack: its ip6 link and rait-ip6.conf with its own key; one back to ip4 removes the file', () => {
    const node = enrolled();
    try {
      const dual = dualFleet(node);
      serve(node, registryFile(dual, { serial: 1 }));
      const r = pull(node);
      assert.equal(r.status, 0, r.stderr);
      const ip6Link = `wg6x${sendPortOf(dual.nodes[1]!.keys, 'ip6')}`;
      assert.deepEqual(r.report.links.added, [ip6Link]);
      // What a deploy writes: the registry's file with this node's key put back.
      assert.equal(readFileSync(join(node.configDir, 'rait-ip6.conf'), 'utf8'), dual.nodes[0]!.files['rait-ip6.conf']);

      serve(node, registryFile(fleet(node), { serial: 2 }));
      const back = pull(node);
      assert.equal(back.status, 0, back.stderr);
      // (The made-up node's links are its recorded facts, so the ip6 link it made is not there to remove.)
      assert.ok(!existsSync(join(node.configDir, 'rait-ip6.conf')));
    } finally {
      node.remove();
    }
  });

  it('down disarms pull: the enrollment goes, so nothing brings the links back', () => {
    const node = enrolled();
    try {
      const plan = fleet(node);
      const down = node.run<ApplyReport>({ mesh: plan.mesh, plan: plan.nodes[0]!, mode: 'down' });
      assert.equal(down.report.ok, true, down.report.error);
      assert.equal(down.configFiles.pull, undefined);
      serve(node, registryFile(plan, { serial: 1 }));
      assert.match(pull(node).report.error!, /not enrolled for pull mode/);
    } finally {
      node.remove();
    }
  });
});
