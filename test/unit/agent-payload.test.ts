import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_FILE, agentCommand, buildPayload, loadAgentScript, planFile } from '../../src/agent/payload.js';
import { sampleMesh } from '../fixtures/mesh-settings.js';
import { PEER_KEYS, PRIVATE_KEY, samplePlan } from './agent-fixture.js';

/** Run a payload with sh as a node does and return the files it staged for the agent, and the agent's arguments. */
function staged(payload: string, args: string[] = ['deploy']): { files: Record<string, string>; argv: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rf-payload-'));
  try {
    const r = spawnSync('/bin/sh', ['-s', '--', ...args], { input: payload, env: { DIR: dir, PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr.toString());
    const files = Object.fromEntries(readdirSync(join(dir, 'stage')).map((f) => [f, readFileSync(join(dir, 'stage', f), 'utf8')]));
    return { files, argv: readFileSync(join(dir, 'argv'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const unpack = (payload: string): Record<string, string> => {
  const { [AGENT_FILE]: agent, ...files } = staged(payload).files;
  assert.equal(agent, STAND_IN);
  return files;
};
/** An agent that keeps what it was given: its stage and its arguments. */
const STAND_IN = '#!/bin/sh\nprintf "%s " "$@" >"$DIR/argv"\nwhile [ "$1" != --stage ]; do shift; done\ncp -R "$2" "$DIR/stage"\n';
const callPrelude = STAND_IN;

test('planFile: header, one link line per planned link, "-" for empty values', () => {
  const text = planFile(samplePlan(), sampleMesh(), 'deploy');
  assert.equal(
    text,
    [
      'version 3',
      'prefix ip4 rait',
      'prefix ip6 rait',
      'group 54',
      'mtu 1400',
      'fwmark 54',
      'isolation none',
      'interface_namespace -',
      'transit_namespace -',
      'config_dir /etc/rait',
      'babeld 1',
      'babeld_config /etc/rait/babeld.conf',
      'babeld_socket /run/babeld.ctl',
      'babeld_manage agent',
      `link rait50002 50002 ${PEER_KEYS[0]} 10.0.0.2 50001 fe80::1:2/64 0 ip4`,
      `link rait50003 50003 ${PEER_KEYS[1]} 10.0.0.3 50001 fe80::1:3/64 0 ip4`,
    ].join('\n') + '\n',
  );
});

test('planFile: down and status carry no link lines; netns names are passed', () => {
  const mesh = sampleMesh({ isolation: 'netns', interfaceNamespace: 'ovl', babeld: { enabled: false } });
  for (const mode of ['down', 'status'] as const) {
    const text = planFile(samplePlan(), mesh, mode);
    assert.doesNotMatch(text, /^link /m);
    assert.match(text, /^isolation netns\ninterface_namespace ovl\ntransit_namespace -\n/m);
    assert.match(text, /^babeld 0$/m);
  }
});

test('planFile: a value with whitespace is refused', () => {
  const plan = samplePlan();
  plan.links[0]!.endpointHost = 'evil host';
  assert.throws(() => planFile(plan, sampleMesh(), 'deploy'), /link rait50002: value "evil host"/);
});

test('buildPayload: sh recreates every file byte for byte, tricky content included', () => {
  const tricky = "it's $(not run) `nor this` \\ \"q\" ''' %s %%\n\ttab\n";
  const noFinalNewline = 'interface rait50002\ninterface rait50003';
  const plan = samplePlan({ 'peers.conf': tricky, 'babeld.conf': noFinalNewline });
  const files = unpack(buildPayload(plan, sampleMesh(), 'deploy', callPrelude));
  assert.deepEqual(files, {
    plan: planFile(plan, sampleMesh(), 'deploy'),
    'rait.conf': plan.files['rait.conf'],
    'peers.conf': tricky,
    'babeld.conf': noFinalNewline,
    'rait-fleet.service': plan.files['rait-fleet.service'],
    'private.key': PRIVATE_KEY + '\n',
  });
});

test('buildPayload: staging forks nothing: every file is a printf of sh itself', () => {
  const payload = buildPayload(samplePlan(), sampleMesh(), 'deploy', callPrelude);
  const body = payload.slice(0, payload.indexOf('}\nrf_run()'));
  assert.equal(body.match(/^printf '%s' '/gm)?.length, Object.keys(unpack(payload)).length + 1, 'one printf a file, the agent included');
  assert.doesNotMatch(body, /^(cat|tee|dd|sed) /m);
});

test('buildPayload: babeld.conf only when enabled', () => {
  const mesh = sampleMesh({ babeld: { enabled: false } });
  assert.deepEqual(Object.keys(unpack(buildPayload(samplePlan(), mesh, 'check', callPrelude))).sort(), [
    'peers.conf',
    'plan',
    'private.key',
    'rait-fleet.service',
    'rait.conf',
  ]);
});

test('buildPayload: status and down send only the plan, never the private key', () => {
  for (const mode of ['status', 'down'] as const) {
    const payload = buildPayload(samplePlan(), sampleMesh(), mode, callPrelude);
    assert.ok(!payload.includes(PRIVATE_KEY), `${mode} payload holds the private key`);
    assert.deepEqual(Object.keys(unpack(payload)), ['plan']);
  }
});

test('buildPayload: the agent is staged verbatim and runs with the mode, on its stage', () => {
  const script = loadAgentScript();
  assert.match(script, /^#!\/bin\/sh\n/);
  const payload = buildPayload(samplePlan(), sampleMesh(), 'status', script);
  assert.ok(payload.startsWith('rf_payload() {\n'));
  // Everything before the last line only defines functions: a payload cut off in transfer runs nothing.
  assert.ok(payload.endsWith('\nrf_run "$@"\n'));
  assert.ok(payload.includes(`printf '%s' '#!/bin/sh\n`), 'the agent is one of the files');
  const { argv } = staged(buildPayload(samplePlan(), sampleMesh(), 'deploy', STAND_IN), ['deploy', '-v']);
  assert.match(argv, /^deploy -v --stage \/\S+ $/);
});

test('buildPayload: a payload cut off anywhere in the transfer stages nothing and runs nothing', () => {
  const payload = buildPayload(samplePlan(), sampleMesh(), 'deploy', STAND_IN);
  for (const at of [0.1, 0.5, 0.9, 0.99].map((f) => Math.floor(payload.length * f))) {
    const dir = mkdtempSync(join(tmpdir(), 'rf-payload-'));
    try {
      const r = spawnSync('/bin/sh', ['-s', '--', 'deploy'], { input: payload.slice(0, at), env: { DIR: dir, PATH: process.env.PATH } });
      assert.notEqual(r.status, 0, `cut at ${at}: sh reports the unfinished payload`);
      assert.deepEqual(readdirSync(dir), [], `cut at ${at}: the stand-in agent did not run`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('agentCommand: mode, verbose flag and sudo', () => {
  assert.equal(agentCommand('deploy', { verbose: false, become: false }), 'sh -s -- deploy');
  assert.equal(agentCommand('check', { verbose: true, become: true }), 'sudo -n sh -s -- check -v');
});
