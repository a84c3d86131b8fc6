// What a RAIT operator's first day brings, on real labs (issue 10): RAIT's own babeld template, links
// added to a running babeld, a babeld.conf change, a distro babeld, an operator's own babeld, a name
// that does not resolve, a prefix change, a low inotify limit. Runs as root.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labExec, type Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import type { StatusDocument } from '../../src/status/format.js';
import { editInventory, outcomes, runCli, waitFor } from './cli-helpers.js';
import { labSuite, type LabSuite } from './lab-suite.js';
import { managedLinks } from './mesh-facts.js';

/** RAIT's README template, as operators copy it; only the hello interval is the lab's (4 s, not 20). */
const RAIT_TEMPLATE = `random-id true
export-table 254
kernel-priority 256

default type tunnel link-quality true split-horizon false
default rxcost 32 hello-interval 4 max-rtt-penalty 1024 rtt-max 1024

{% for i in LinkList %}interface {{ i }}
{% endfor %}
redistribute local deny
`;

/** The commands a lab suite's tests share. */
function fleet(suite: LabSuite) {
  const lab = (): Lab => suite.lab;
  const sh = async (node: string, script: string): Promise<string> => {
    const r = await labExec(lab(), node, ['sh', '-c', script]);
    assert.equal(r.code, 0, `${node}: ${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const deploy = async (...args: string[]) => {
    const r = await runCli(['deploy', suite.inventory, '--json', ...args]);
    assert.match(r.stdout, /^\{/, `deploy printed no document (exit ${r.code}): ${r.stderr}`);
    return { code: r.code, out: outcomes(r.stdout), stderr: r.stderr };
  };
  const status = async (...args: string[]): Promise<{ code: number; doc: StatusDocument; text: string }> => {
    const r = await runCli(['status', suite.inventory, '--json', ...args]);
    assert.match(r.stdout, /^\{/, `status printed no document (exit ${r.code}): ${r.stderr}`);
    return { code: r.code, doc: JSON.parse(r.stdout) as StatusDocument, text: r.stdout };
  };
  /** Status until it is healthy; babeld needs a few hellos after a change. */
  const healthy = async (...args: string[]): Promise<StatusDocument> => {
    let last: StatusDocument | undefined;
    const ok = await waitFor(async () => ((last = (await status(...args)).doc), last.healthy), 60_000, 2000);
    assert.ok(ok, `status stayed degraded: ${JSON.stringify(last?.problems)}`);
    return last!;
  };
  const ourBabeld = (node: string): Promise<string> => sh(node, 'cat /run/rait-fleet/babeld.pid');
  const ifname = (peer: string): string => `rait${readState(suite.statePath).nodes[peer]!.sendPort}`;
  /** Ends a babeld on the node and waits until it is gone. */
  const stopBabeld = (node: string, pid: string): Promise<string> =>
    sh(node, `kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done`);
  return { lab, sh, deploy, status, healthy, ourBabeld, ifname, stopBabeld };
}

describe("babeld with RAIT's own template", () => {
  const suite = labSuite('rait', 3);
  const { sh, deploy, status, healthy, ourBabeld, ifname } = fleet(suite);
  let n3: unknown;

  before(() => {
    writeFileSync(join(suite.work, 'rait.liquid'), RAIT_TEMPLATE);
    editInventory(suite.inventory, (doc) => {
      doc.setIn(['mesh', 'babeld', 'template'], './rait.liquid');
      // n3 joins later, so that its links are added to babelds already running.
      n3 = doc.getIn(['nodes', 'n3']);
      doc.deleteIn(['nodes', 'n3']);
    });
  });

  it("deploys with a template that names no control socket: babeld answers on the agent's", async () => {
    const r = await deploy();
    assert.equal(r.code, 0, r.stderr + JSON.stringify([...r.out.values()]));
    for (const o of r.out.values()) assert.equal(o.babeld, 'started', o.node);
    await healthy();
    assert.match(await sh('n1', 'printf "dump\\nquit\\n" | socat -t 5 - UNIX-CONNECT:/run/babeld.ctl'), /^add interface rait/m);
  });

  it("a link added to a running babeld gets the template's parameters, like its siblings", async () => {
    const before = await ourBabeld('n1');
    editInventory(suite.inventory, (doc) => doc.setIn(['nodes', 'n3'], n3));
    const r = await deploy();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.get('n1')!.babeld, 'updated');
    assert.equal(await ourBabeld('n1'), before, 'babeld was not restarted for a new link');
    // babeld's built-in tunnel defaults would give the new link rxcost 96 and no rtt. With
    // link-quality the rxcost starts higher and falls as hellos arrive (one hello at rxcost 32
    // reads 127; the template's hello-interval is 20 s), but never below the interface's own
    // rxcost: below 96 only with the template's 32.
    const toN3 = ifname('n3');
    const neighbour = async () => {
      const { doc } = await status('--limit', 'n1');
      return doc.facts.n1!.babel.neighbours.find((n) => n.interface === toN3 && n.rxcost < 65535);
    };
    const added = await waitFor(
      async () => {
        const n = await neighbour();
        return n && n.rtt !== null && n.rxcost < 96 ? n : undefined;
      },
      90_000,
      2000,
    );
    assert.ok(added, `the template's rxcost 32 was not applied to ${toN3} (or it has no rtt): ${JSON.stringify(await neighbour())}`);
    await healthy();
  });

  it('a new line in babeld.conf (a prefix to announce) restarts babeld, and the prefix is announced', async () => {
    await sh('n1', 'ip -6 addr add fd99:1::1/64 dev lo');
    const before = { n1: await ourBabeld('n1'), n2: await ourBabeld('n2') };
    writeFileSync(
      join(suite.work, 'rait.liquid'),
      RAIT_TEMPLATE.replace('redistribute local deny', 'redistribute local ip fd99:1::/64 allow\nredistribute local deny'),
    );
    const r = await deploy('--limit', 'n1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.get('n1')!.babeld, 'restarted');
    assert.notEqual(await ourBabeld('n1'), before.n1);
    // babeld announces n1's address on lo as a host route inside the allowed prefix.
    const route = await waitFor(async () => /^fd99:1::1 via /m.test(await sh('n2', 'ip -6 route show proto babel')), 60_000, 2000);
    assert.ok(route, 'n2 never learnt fd99:1::/64 from n1');
    assert.equal(await ourBabeld('n2'), before.n2, 'n2 was not deployed');
  });

  it('status tells a babeld running an older config from the deployed one', async () => {
    await deploy();
    await healthy();
    await sh('n2', "sed -i 's/hello-interval 4/hello-interval 5/' /run/rait-fleet/babeld.conf");
    const { code, doc } = await status();
    assert.equal(code, 1);
    const n2 = doc.nodes.find((n) => n.node === 'n2')!;
    assert.equal(n2.drift, true);
    assert.ok(
      doc.problems.includes('n2: babeld runs an older babeld.conf than the deployed one — run deploy to restart it'),
      JSON.stringify(doc.problems),
    );
    const r = await deploy();
    assert.equal(r.out.get('n2')!.babeld, 'restarted');
    await healthy();
  });

  it('down flushes only what babeld has: an interface flushed by hand is no error', async () => {
    await sh('n2', `printf "flush interface ${ifname('n1')}\\nquit\\n" | socat -t 5 - UNIX-CONNECT:/run/babeld.ctl`);
    const r = await runCli(['down', suite.inventory, '--limit', 'n2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await managedLinks(suite.lab, 'n2')).size, 0);
    assert.equal((await deploy()).code, 0);
  });
});

describe('a babeld rait-fleet did not start', () => {
  const suite = labSuite('babel', 3);
  const { sh, deploy, status, healthy, ourBabeld, ifname, stopBabeld } = fleet(suite);

  before(async () => {
    assert.equal((await deploy()).code, 0);
    await healthy();
  });

  it("a distro babeld (Debian's pid file): the node fails before any change, naming it; it is left running", async () => {
    await stopBabeld('n3', await ourBabeld('n3'));
    await sh(
      'n3',
      'printf "interface eth0\\n" >/etc/babeld.conf && babeld -D -I /run/babeld.pid -S /var/lib/babeld/state -c /etc/babeld.conf',
    );
    // babeld -D returns before the daemon has written its pid file.
    const distro = await sh('n3', 'for i in $(seq 50); do [ -s /run/babeld.pid ] && break; sleep 0.1; done; cat /run/babeld.pid');
    editInventory(suite.inventory, (doc) => doc.setIn(['mesh', 'mtu'], 1380));
    const r = await deploy();
    assert.equal(r.code, 1);
    const o = r.out.get('n3')!;
    assert.equal(o.result, 'failed');
    assert.match(
      o.error!,
      new RegExp(
        `a babeld that rait-fleet did not start runs here \\(pid ${distro}: babeld -D -I /run/babeld.pid -S /var/lib/babeld/state -c /etc/babeld.conf\\): stop it`,
      ),
    );
    assert.match(o.error!, /manage: external/);
    assert.deepEqual(o.files, [], 'nothing was written before the refusal');
    assert.equal(await sh('n3', 'cat /run/babeld.pid'), distro);
    assert.ok((await sh('n3', `kill -0 ${distro} && echo alive`)) === 'alive', 'the distro babeld was stopped');
    for (const n of ['n1', 'n2']) assert.equal(r.out.get(n)!.result, 'changed', n);
    await stopBabeld('n3', distro);
  });

  it("manage external: the operator's babeld is told about links with their parameters, never started or stopped", async () => {
    // An operator's babeld as RAIT's users run it: their config, their socket, their pid file.
    await sh(
      'n3',
      `printf '%s\\n' 'local-path-readwrite /run/babeld.ctl' 'default type tunnel link-quality true split-horizon false rxcost 32 hello-interval 4 max-rtt-penalty 1024 rtt-max 1024' 'interface eth0' >/etc/babeld.conf`,
    );
    await sh(
      'n3',
      'rm -f /run/babeld.ctl; babeld -D -I /run/babeld.pid -S /var/lib/babeld/state -c /etc/babeld.conf; for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/babeld.ctl ] && break; sleep 0.2; done',
    );
    const operator = await sh('n3', 'cat /run/babeld.pid');
    editInventory(suite.inventory, (doc) => doc.setIn(['mesh', 'babeld', 'manage'], 'external'));
    const r = await deploy('--limit', 'n3');
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.out.get('n3')));
    assert.equal(r.out.get('n3')!.babeld, 'updated');
    assert.equal(await sh('n3', 'cat /run/babeld.pid'), operator);
    assert.equal(
      await sh('n3', 'p=$(cat /run/rait-fleet/babeld.pid); kill -0 "$p" 2>/dev/null && echo "$p"; true'),
      '',
      'the agent started a babeld of its own',
    );
    // The links carry the template's parameters: neighbours with an rtt on every link, at rxcost 32-ish.
    const ok = await waitFor(
      async () => {
        const ns = (await status('--limit', 'n3')).doc.facts.n3!.babel.neighbours.filter((n) => n.interface.startsWith('rait'));
        return ns.length === 2 && ns.every((n) => n.rtt !== null && n.rxcost < 96);
      },
      60_000,
      2000,
    );
    assert.ok(ok, JSON.stringify((await status('--limit', 'n3')).doc.facts.n3!.babel));
    const down = await runCli(['down', suite.inventory, '--limit', 'n3', '--json']);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.equal(outcomes(down.stdout).get('n3')!.babeld, 'updated');
    assert.ok((await sh('n3', `kill -0 ${operator} && echo alive`)) === 'alive', "down stopped the operator's babeld");
    assert.doesNotMatch(
      await sh('n3', 'printf "dump\\nquit\\n" | socat -t 5 - UNIX-CONNECT:/run/babeld.ctl'),
      new RegExp(`^add interface ${ifname('n1')}`, 'm'),
    );
    await stopBabeld('n3', operator);
    editInventory(suite.inventory, (doc) => doc.deleteIn(['mesh', 'babeld', 'manage']));
    assert.equal((await deploy()).code, 0);
    assert.notEqual(await ourBabeld('n3'), '');
  });
});

describe('links on a real first day', () => {
  const suite = labSuite('links', 3);
  const { lab, sh, deploy, status, healthy, ifname } = fleet(suite);

  before(async () => {
    assert.equal((await deploy()).code, 0);
    await healthy();
  });

  it('an endpoint that does not resolve fails only the links to it, named with the reason; the rest is done', async () => {
    editInventory(suite.inventory, (doc) => {
      doc.setIn(['nodes', 'n1', 'endpoint'], 'n1.invalid');
      doc.setIn(['mesh', 'mtu'], 1380);
    });
    const started = Date.now();
    const r = await deploy();
    console.log(`# deploy with an unresolvable endpoint took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(r.code, 1);
    assert.equal(r.out.get('n1')!.result, 'changed');
    for (const n of ['n2', 'n3']) {
      const o = r.out.get(n)!;
      assert.equal(o.result, 'failed', n);
      assert.deepEqual(o.links!.failed, [{ name: ifname('n1'), error: 'endpoint n1.invalid does not resolve (ip4)' }], n);
      assert.match(o.error!, /1 link failed \(the others are done\)/);
      // Every link got the new MTU, the one to n1 too; babeld still runs.
      assert.equal(o.links!.updated.length, 2, n);
      assert.equal(o.babeld, 'unchanged', n);
      for (const { mtu } of (await managedLinks(lab(), n)).values()) assert.equal(mtu, 1380, n);
    }
    const { code, doc } = await status();
    assert.equal(code, 1);
    for (const n of ['n2', 'n3']) {
      assert.ok(
        doc.problems.includes(`${n}: ${ifname('n1')} (to n1): endpoint n1.invalid does not resolve (ip4) — fix that, then run deploy`),
        JSON.stringify(doc.problems),
      );
    }
    assert.doesNotMatch(doc.problems.join('\n'), /peer key/);
    editInventory(suite.inventory, (doc) => doc.deleteIn(['nodes', 'n1', 'endpoint']));
    assert.equal((await deploy()).code, 0);
    await healthy();
  });

  it('a prefix change removes the old links first (check shows it), and down still works', async () => {
    const old = [...(await managedLinks(lab(), 'n1')).keys()].sort();
    editInventory(suite.inventory, (doc) => doc.setIn(['mesh', 'interface_prefix'], 'rf'));
    const check = await deploy('--check');
    assert.equal(check.code, 0, check.stderr);
    const c = check.out.get('n1')!;
    assert.deepEqual([...c.links!.removed].sort(), old);
    assert.deepEqual(
      [...c.links!.added].sort(),
      old.map((l) => l.replace(/^rait/, 'rf')),
    );
    const r = await deploy();
    assert.equal(r.code, 0, r.stderr + JSON.stringify([...r.out.values()]));
    for (const n of ['n1', 'n2', 'n3']) {
      const names = (await sh(n, 'ip -o link show group 54')).split('\n').map((l) => l.split(': ')[1]!.split('@')[0]);
      assert.ok(names.length === 2 && names.every((l) => l.startsWith('rf')), `${n}: ${names.join(' ')}`);
    }
    await healthy();
    const down = await runCli(['down', suite.inventory]);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    for (const n of ['n1', 'n2', 'n3']) assert.equal(await sh(n, 'ip -o link show group 54 | wc -l'), '0', n);
  });

  it('too low an inotify limit for the wireguard-go links is raised, and the node says so', async () => {
    const file = '/proc/sys/fs/inotify/max_user_instances';
    const original = readFileSync(file, 'utf8').trim();
    const used = Number(
      await sh('n1', "find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/fd/*' -lname 'anon_inode:inotify' 2>/dev/null | wc -l"),
    );
    try {
      writeFileSync(file, `${used + 4}\n`);
      const r = await deploy('--limit', 'n1');
      assert.equal(r.code, 0, r.stderr + JSON.stringify(r.out.get('n1')));
      const notes = r.out.get('n1')!.notes!;
      assert.equal(notes.length, 1, JSON.stringify(notes));
      assert.match(
        notes[0]!,
        new RegExp(`^raised fs\\.inotify\\.max_user_instances from ${used + 4} to \\d+: each wireguard-go needs one`),
      );
      assert.ok(Number(readFileSync(file, 'utf8')) > used + 4);
    } finally {
      writeFileSync(file, `${original}\n`);
    }
    assert.equal((await deploy()).code, 0);
  });
});
