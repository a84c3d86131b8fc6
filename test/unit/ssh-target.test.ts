import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SshSettings } from '../../src/inventory/types.js';
import { InputError } from '../../src/errors.js';
import { hostConfigFrom, parseJumpSpec, resolveTarget } from '../../src/ssh/target.js';

const ctx = { home: '/home/op', localUser: 'op', configPath: '/home/op/.ssh/config' };

function settings(over: Partial<SshSettings> = {}): SshSettings {
  return {
    user: 'root',
    port: 22,
    identityFile: '/home/op/.ssh/id_ed25519',
    knownHosts: '/home/op/.ssh/known_hosts',
    hostKeyChecking: 'strict',
    become: false,
    connectTimeout: 10,
    ...over,
  };
}

const config = hostConfigFrom(`
Host web*
  HostName %h.dc1.example
  User deploy
  Port 2200
  IdentityFile ~/.ssh/fleet_%r
  ProxyJump jumper@bastion:2022,inner

Host bastion
  HostName 192.0.2.10
  User ignored-because-spec-has-user

Host inner
  HostName 10.9.9.9
  Port 2201

Host plain
  ProxyJump none

Host *
  User everyone
`);

test('without ssh_config entries the node settings stand', () => {
  const t = resolveTarget(settings(), 'n1.example', () => ({}), ctx);
  assert.deepEqual(t, { user: 'root', host: 'n1.example', port: 22, identityFiles: ['/home/op/.ssh/id_ed25519'], jumps: [] });
});

test('ssh_config HostName always applies; User, Port, IdentityFile replace only built-in defaults', () => {
  const t = resolveTarget(settings(), 'web1', config, ctx);
  assert.equal(t.host, 'web1.dc1.example');
  assert.equal(t.user, 'deploy');
  assert.equal(t.port, 2200);
  assert.deepEqual(t.identityFiles, ['/home/op/.ssh/fleet_deploy']);
  const explicit = resolveTarget(settings({ user: 'admin', port: 2022, identityFile: '/keys/fleet' }), 'web1', config, ctx);
  assert.equal(explicit.host, 'web1.dc1.example');
  assert.equal(explicit.user, 'admin');
  assert.equal(explicit.port, 2022);
  assert.deepEqual(explicit.identityFiles, ['/keys/fleet']);
});

test('ProxyJump chains resolve each hop through ssh_config', () => {
  const t = resolveTarget(settings(), 'web1', config, ctx);
  assert.deepEqual(t.jumps, [
    { user: 'jumper', host: '192.0.2.10', port: 2022 },
    { user: 'everyone', host: '10.9.9.9', port: 2201 },
  ]);
  assert.deepEqual(resolveTarget(settings(), 'plain', config, ctx).jumps, []);
});

test('the inventory ssh.jump wins over ProxyJump and inherits the node user', () => {
  const t = resolveTarget(settings({ user: 'admin', jump: 'gw.example' }), 'web1', config, ctx);
  assert.deepEqual(t.jumps, [{ user: 'everyone', host: 'gw.example', port: 22 }]);
  const t2 = resolveTarget(settings({ user: 'admin', jump: 'gw.example:2022' }), 'n1', () => ({}), ctx);
  assert.deepEqual(t2.jumps, [{ user: 'admin', host: 'gw.example', port: 2022 }]);
});

test('jump specs: user, IPv6 in brackets, ssh:// form; bad ones name the field', () => {
  assert.deepEqual(parseJumpSpec('ops@[2001:db8::1]:2222', 'ssh.jump'), { user: 'ops', host: '2001:db8::1', port: 2222 });
  assert.deepEqual(parseJumpSpec('ssh://gw', 'ProxyJump'), { user: undefined, host: 'gw', port: undefined });
  assert.throws(
    () => parseJumpSpec('a@b@c', 'ssh.jump'),
    (e: unknown) => e instanceof InputError && /ssh\.jump/.test(e.message),
  );
  assert.throws(() => parseJumpSpec('gw:70000', 'ssh.jump'), /1\.\.65535/);
});
