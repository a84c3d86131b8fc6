// The agent a deploy leaves on a node, and what it does alone (issue 11), on made-up nodes: the
// agent and the plan beside rait.conf, systemd units where systemd runs, apply at boot and to heal
// with the same decisions as a deploy, down disarming it all. No root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyReport, StatusReport } from '../../src/agent/report.js';
import { loadAgentScript } from '../../src/agent/payload.js';
import { systemdUnits } from '../../src/mesh/units.js';
import { sampleMesh } from '../fixtures/mesh-settings.js';
import { MadeUpNode } from './agent-harness.js';
import { PRIVATE_KEY } from './agent-fixture.js';
import { link, n1Plan } from './recorded-node.js';

const mesh = sampleMesh({ babeld: { enabled: false } });
const lines = (text: string): string[] => text.split('\n').filter(Boolean);

function node(setup: ConstructorParameters<typeof MadeUpNode>[0] = {}): MadeUpNode {
  return new MadeUpNode(setup);
}

describe('deploy leaves an agent that can act alone', () => {
  it('the agent (0755) and the plan it applied (0600, no key) beside rait.conf', () => {
    const n = node();
    try {
      const r = n.run<ApplyReport>({ mesh });
      assert.equal(r.report.ok, true, r.report.error);
      assert.equal(r.configFiles['rait-fleet-agent'], loadAgentScript());
      assert.equal(statSync(join(n.configDir, 'rait-fleet-agent')).mode & 0o777, 0o755);
      assert.equal(statSync(join(n.configDir, 'plan')).mode & 0o777, 0o600);
      assert.match(r.configFiles.plan!, /^version 3\n/);
      assert.ok(!r.configFiles.plan!.includes(PRIVATE_KEY));
      assert.deepEqual(
        r.report.files.filter((f) => f.name === 'rait-fleet-agent'),
        [{ name: 'rait-fleet-agent', changed: true }],
      );
    } finally {
      n.remove();
    }
  });

  it('a deploy that changes nothing compares every file with one cksum, and still finds a hand edit of the same size', () => {
    const n = node({ systemd: true, spy: ['cksum', 'cmp', 'cat', 'date', 'sed', 'grep'] });
    try {
      const files = systemdUnits(mesh);
      n.run<ApplyReport>({ mesh, files });
      const again = n.run<ApplyReport>({ mesh, files });
      assert.deepEqual(
        again.report.files.filter((f) => f.changed),
        [],
      );
      assert.deepEqual(
        lines(again.spied).map((l) => l.split(' ')[0]),
        ['cksum'],
      );
      // One character of the installed rait.conf changed by hand: same size, other content.
      const path = join(n.configDir, 'rait.conf');
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, text.replace('PrivateKey', 'privateKey'));
      const healed = n.run<ApplyReport>({ mesh, files });
      assert.deepEqual(
        healed.report.files.filter((f) => f.changed).map((f) => f.name),
        ['rait.conf'],
      );
      assert.equal(readFileSync(path, 'utf8'), text);
    } finally {
      n.remove();
    }
  });

  it('with systemd: units installed and enabled once; a second deploy touches none of it', () => {
    const n = node({ systemd: true });
    try {
      const first = n.run<ApplyReport>({ mesh, files: systemdUnits(mesh) });
      assert.equal(first.report.persistence, 'systemd');
      assert.deepEqual(
        lines(first.changes).filter((l) => l.startsWith('systemctl')),
        ['systemctl daemon-reload', 'systemctl enable rait-fleet.service', 'systemctl enable --now rait-fleet-heal.timer'],
      );
      for (const unit of ['rait-fleet.service', 'rait-fleet-heal.service', 'rait-fleet-heal.timer']) {
        assert.equal(statSync(join(n.unitDir, unit)).mode & 0o777, 0o644, unit);
      }
      const again = n.run<ApplyReport>({ mesh, files: systemdUnits(mesh) });
      assert.deepEqual(
        lines(again.changes).filter((l) => l.startsWith('systemctl')),
        [],
      );
      assert.deepEqual(again.report.notes, []);
      // heal_interval 0: the timer goes.
      const noHeal = sampleMesh({ babeld: { enabled: false }, healInterval: 0 });
      const off = n.run<ApplyReport>({ mesh: noHeal, files: { ...systemdUnits(noHeal), 'rait-fleet-heal.service': undefined } });
      assert.deepEqual(
        lines(off.changes).filter((l) => l.startsWith('systemctl')),
        ['systemctl disable --now rait-fleet-heal.service', 'systemctl disable --now rait-fleet-heal.timer', 'systemctl daemon-reload'],
      );
    } finally {
      n.remove();
    }
  });

  it('without systemd: persistence none, and the first deploy says what to run at boot', () => {
    const n = node();
    try {
      const first = n.run<ApplyReport>({ mesh });
      assert.equal(first.report.persistence, 'none');
      assert.equal(first.report.notes.length, 1);
      assert.match(first.report.notes[0]!, /no systemd here.*run '.*\/rait-fleet-agent apply --boot' at boot/);
      assert.deepEqual(n.run<ApplyReport>({ mesh }).report.notes, [], 'said once');
    } finally {
      n.remove();
    }
  });

  it('a new config_dir: the agent, plan and records move there, nothing of the old one stays', () => {
    const n = node();
    try {
      n.run({ mesh });
      const other = join(n.dir, 'etc2');
      const moved = n.run<ApplyReport>({ mesh, configDir: other });
      assert.equal(moved.report.ok, true, moved.report.error);
      assert.equal(existsSync(n.configDir), false, 'the old config_dir is left');
      assert.deepEqual(readdirSync(other).sort(), ['peers.conf', 'placement', 'plan', 'rait-fleet-agent', 'rait.conf']);
      assert.equal(readFileSync(join(n.dir, 'state', 'config_dir'), 'utf8'), `${other}\n`);
    } finally {
      n.remove();
    }
  });

  it('down disarms it: units disabled and removed, the stored plan marked down', () => {
    const n = node({ systemd: true });
    try {
      n.run({ mesh, files: systemdUnits(mesh) });
      const down = n.run<ApplyReport>({ mesh, mode: 'down' });
      assert.equal(down.report.ok, true, down.report.error);
      assert.deepEqual(
        lines(down.changes).filter((l) => l.startsWith('systemctl')),
        ['systemctl disable --now rait-fleet-heal.timer rait-fleet.service', 'systemctl daemon-reload'],
      );
      assert.match(down.configFiles.plan!, /\nstate down\n$/);
      assert.doesNotMatch(down.configFiles.plan!, /^link /m);
    } finally {
      n.remove();
    }
  });
});

describe('rait-fleet-agent apply, on the node alone', () => {
  it('applies the stored plan with the key from rait.conf: the same decisions as a deploy, logged as a heal', () => {
    // A node of the recorded lab whose link to n2 is gone (a crashed wireguard-go takes its link along).
    const n = node({ facts: { here: 'link-deleted' } });
    try {
      n.run(n1Plan());
      const heal = n.resident<ApplyReport>(['apply', '--heal', '-v']);
      assert.equal(heal.status, 0, heal.stderr);
      assert.equal(heal.report.mode, 'apply');
      assert.deepEqual(heal.report.links.added, [link.n2]);
      assert.deepEqual([...heal.report.links.kept].sort(), [link.n3, link.n4].sort());
      // The key went from rait.conf to a private file, never to a command line or the output.
      assert.match(heal.changes, /private-key \S+\/private\.key/);
      assert.ok(![heal.changes, heal.queries, heal.stderr, JSON.stringify(heal.report)].some((t) => t.includes(PRIVATE_KEY)));
      const status = n.resident<StatusReport>(['status']);
      assert.equal(status.report.persistence.lastKind, 'heal');
      assert.equal(status.report.persistence.healsChanged, 1);
      assert.equal(status.report.persistence.lastHealChange, link.n2);
    } finally {
      n.remove();
    }
  });

  it('a link that cannot be made fails apply (exit 1, so a unit shows it); a down plan brings nothing back', () => {
    const n = node({ facts: { here: 'name-taken' } });
    try {
      n.run(n1Plan());
      const failed = n.resident<ApplyReport>(['apply', '--boot']);
      assert.equal(failed.status, 1);
      assert.equal(failed.report.links.failed.length, 1);
      n.run({ mesh, mode: 'down' });
      const after = n.resident<ApplyReport>(['apply', '--boot']);
      assert.deepEqual(after.report.links.added, []);
    } finally {
      n.remove();
    }
  });

  it('a hand-edited stored plan it cannot read: the line and the field, exit 1, nothing changed', () => {
    const n = node({ facts: { here: 'link-deleted' } });
    try {
      n.run(n1Plan());
      const planPath = join(n.configDir, 'plan');
      const stored = readFileSync(planPath, 'utf8');
      const links = stored.split('\n').filter((l) => l.startsWith('link '));
      const first = links[0]!;
      const [, name] = first.split(' ');
      // An operator's habits: a note and a blank line on top, tabs between fields.
      const head = `# edited by hand\n\n${stored.replaceAll(first, first.replaceAll(' ', '\t'))}`;
      const lineOf = (text: string, line: string): number => text.split('\n').indexOf(line) + 1;
      const cases: [string, string, RegExp][] = [
        ['duplicate', `${head}${first}\n`, new RegExp(`plan line ${lineOf(`${head}${first}`, first)}: bad duplicate interface: ${name}$`)],
        ['bad key', `${head}${first.replace(/ \S+=/, ' not-a-key')}\n`, /bad public key: not-a-key$/],
        ['extra field', `${head}${first} extra\n`, /bad address family: ip\d extra$/],
        ['unknown key', `${head}colour blue\n`, new RegExp(`plan line ${head.split('\n').length}: bad key: colour$`)],
      ];
      for (const [what, text, error] of cases) {
        writeFileSync(planPath, text);
        const r = n.resident<ApplyReport>(['apply']);
        assert.equal(r.status, 1, what);
        assert.match(r.report.error!, error, what);
        assert.equal(r.changes, '', what);
      }
      // The tabs, the note and the blank line alone are fine: the same decisions as before.
      writeFileSync(planPath, head);
      const ok = n.resident<ApplyReport>(['apply']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.deepEqual(ok.report.links.added, [link.n2]);
    } finally {
      n.remove();
    }
  });

  it('without the stored plan: says so and exits 1, changing nothing', () => {
    const n = node();
    try {
      n.run({ mesh });
      rmSync(join(n.configDir, 'plan'));
      const r = n.resident<ApplyReport>(['apply']);
      assert.equal(r.status, 1);
      assert.match(r.report.error!, /no plan beside .*rait-fleet-agent: deploy this node with rait-fleet first/);
      assert.equal(r.changes, '');
    } finally {
      n.remove();
    }
  });
});
