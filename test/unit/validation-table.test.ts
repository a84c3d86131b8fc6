// One rule, one table, two checkers: the inventory's TypeScript checks and the agent's valid_* must
// agree on every value of test/fixtures/validation-table.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEndpointHost, isInterfacePrefix, isNamespaceName, isPullUrl, isSafeAbsolutePath } from '../../src/inventory/checks.js';
import { isWireGuardKey } from '../../src/state/keys.js';
import { VALIDATION_TABLE, type Rule } from '../fixtures/validation-table.js';
import { agentFunctions } from './agent-harness.js';

const CHECKERS: Record<Rule, { ts: (s: string) => boolean; agent: string }> = {
  path: { ts: isSafeAbsolutePath, agent: 'valid_path' },
  namespace: { ts: isNamespaceName, agent: 'valid_ns' },
  // The inventory also bounds prefix + port at 15 bytes; the agent, the prefix alone.
  prefix: { ts: (s) => isInterfacePrefix(s) && s.length <= 15, agent: 'valid_prefix' },
  endpoint: { ts: isEndpointHost, agent: 'valid_host' },
  key: { ts: isWireGuardKey, agent: 'valid_key' },
  url: { ts: isPullUrl, agent: 'valid_url' },
};

for (const [rule, { good, bad }] of Object.entries(VALIDATION_TABLE) as [Rule, { good: string[]; bad: string[] }][]) {
  test(`${rule}: the inventory and the agent accept and refuse the same values`, () => {
    const { ts, agent } = CHECKERS[rule];
    const values = [...good, ...bad];
    const byAgent = agentFunctions(values.map((v) => [agent, v]));
    const rows = values.map((v, i) => ({ value: v, expected: good.includes(v), ts: ts(v), agent: byAgent[i] }));
    assert.deepEqual(
      rows.filter((r) => r.ts !== r.expected || r.agent !== r.expected),
      [],
    );
  });
}
