// The systemd units deploy installs where systemd runs: what they run, and that systemd accepts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemdUnits } from '../../src/mesh/units.js';
import { sampleMesh } from '../fixtures/mesh-settings.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const newDir = tempDirs('rf-units-');

test('boot and heal units run the agent beside the plan; heal_interval sets the timer, 0 drops it', () => {
  const units = systemdUnits(sampleMesh({ configDir: '/srv/rait', healInterval: 120 }));
  assert.match(units['rait-fleet.service'], /^ExecStart=\/srv\/rait\/rait-fleet-agent apply --boot$/m);
  assert.match(units['rait-fleet.service'], /^After=network-online\.target$/m);
  assert.match(units['rait-fleet.service'], /^ConditionPathExists=\/srv\/rait\/plan$/m);
  assert.match(units['rait-fleet.service'], /^WantedBy=multi-user\.target$/m);
  assert.match(units['rait-fleet-heal.service']!, /^ExecStart=\/srv\/rait\/rait-fleet-agent apply --heal$/m);
  assert.match(units['rait-fleet-heal.timer']!, /^OnUnitActiveSec=120$/m);
  assert.deepEqual(Object.keys(systemdUnits(sampleMesh({ healInterval: 0 }))), ['rait-fleet.service']);
});

test('pull mode: a pull timer every interval, running the agent beside the pull config', () => {
  const units = systemdUnits(sampleMesh({ configDir: '/srv/rait', pull: { url: 'https://r.example/rait', interval: 900 } }));
  assert.match(units['rait-fleet-pull.service']!, /^ExecStart=\/srv\/rait\/rait-fleet-agent pull$/m);
  assert.match(units['rait-fleet-pull.service']!, /^ConditionPathExists=\/srv\/rait\/pull$/m);
  assert.match(units['rait-fleet-pull.timer']!, /^OnUnitActiveSec=900$/m);
  assert.match(units['rait-fleet-pull.timer']!, /^RandomizedDelaySec=90$/m);
  assert.ok(!('rait-fleet-pull.timer' in systemdUnits(sampleMesh())));
});

test('systemd-analyze verify accepts the units', (t) => {
  const probe = spawnSync('systemd-analyze', ['--version']);
  if (probe.error) return t.skip('systemd-analyze is not installed (setup.sh installs systemd)');
  // The agent the units run must exist where they say: a config_dir of the test's own.
  const dir = newDir();
  const configDir = join(dir, 'rait');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'rait-fleet-agent'), '#!/bin/sh\n');
  chmodSync(join(configDir, 'rait-fleet-agent'), 0o755);
  const units = systemdUnits(sampleMesh({ configDir, pull: { url: 'https://r.example/rait', interval: 600 } }));
  const paths = Object.entries(units).map(([name, text]) => {
    writeFileSync(join(dir, name), text!);
    return join(dir, name);
  });
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...paths], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // It names what it finds wrong on stderr even with exit 0; our units give it nothing to say.
  assert.equal(
    r.stderr
      .split('\n')
      .filter((l) => l.includes(dir))
      .join('\n'),
    '',
  );
});
