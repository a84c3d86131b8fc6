import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSudoPasswordError } from '../../src/ssh/sudo.js';

test('recognises sudo -n asking for a password or a terminal', () => {
  assert.ok(isSudoPasswordError('sudo: a password is required\n'));
  assert.ok(isSudoPasswordError('sudo: a terminal is required to read the password; either use the -S option'));
  assert.ok(!isSudoPasswordError('sh: 1: wg: not found\n'));
  assert.ok(!isSudoPasswordError(''));
});
