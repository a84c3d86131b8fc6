// The alert rules and the Grafana dashboard shipped in contrib/: promtool checks and tests the rules,
// and every series they or the dashboard query is one that status --prometheus or the exporter emits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { analyzeMesh } from '../../src/status/analyze.js';
import { metrics } from '../../src/exporter/pages.js';
import { parseExposition } from '../fixtures/prometheus-text.js';
import { promtool, promtoolMissing } from '../fixtures/promtool.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { makePlan, names, probesFor } from './status-fixtures.js';

const CONTRIB = fileURLToPath(new URL('../../../contrib/', import.meta.url));
const RULES = join(CONTRIB, 'prometheus', 'rait-fleet.rules.yml');
const RULE_TESTS = join(CONTRIB, 'prometheus', 'rait-fleet.rules.test.yml');
const DASHBOARD = join(CONTRIB, 'grafana', 'rait-fleet.json');
const tempDir = tempDirs('rf-contrib-');

/** Every family the exporter serves after a round of a healthy mesh with babeld (a superset of status --prometheus). */
function emitted(): Set<string> {
  const plan = makePlan(['n1', 'n2', 'n3']);
  const probes = probesFor(plan);
  const round = { health: analyzeMesh(plan, names(plan), probes), probes, seconds: 1 };
  const text = metrics({ startedAt: 0, intervalSeconds: 30, last: { round, endedAt: 0 }, rounds: { ok: 1, error: 0 } }, 1000);
  return new Set(parseExposition(text).families.keys());
}

const metricNames = (expr: string): string[] => expr.match(/\brait_[a-z0-9_]+/g) ?? [];

interface Rule {
  alert: string;
  expr: string;
  for: string;
  annotations: Record<string, string>;
}
const rules = (): Rule[] => (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

test('the alert rules: link down, node unreachable, drift, a stale round; each names only series that exist', () => {
  const families = emitted();
  assert.deepEqual(
    rules().map((r) => r.alert),
    ['RaitLinkDown', 'RaitNodeUnreachable', 'RaitConfigDrift', 'RaitStatusRoundStale'],
  );
  for (const r of rules()) {
    assert.ok(r.for && r.annotations.summary && r.annotations.description, `${r.alert}: for, summary and description`);
    for (const name of metricNames(r.expr)) assert.ok(families.has(name), `${r.alert} queries ${name}, which nothing emits`);
  }
});

test('promtool check rules and promtool test rules pass', { skip: promtoolMissing }, () => {
  const check = promtool(['check', 'rules', RULES]);
  assert.equal(check.code, 0, check.output);
  const run = promtool(['test', 'rules', RULE_TESTS]);
  assert.equal(run.code, 0, run.output);
});

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; datasource: { uid: string } }[];
}
const dashboard = (): { schemaVersion: number; templating: { list: { name: string; type: string; query: unknown }[] }; panels: Panel[] } =>
  JSON.parse(readFileSync(DASHBOARD, 'utf8'));

test('the dashboard: Prometheus as a variable, every query on it, and only series that exist', () => {
  const d = dashboard();
  const families = emitted();
  assert.equal(d.schemaVersion, 42);
  const ds = d.templating.list.find((v) => v.type === 'datasource');
  assert.deepEqual([ds?.name, ds?.query], ['datasource', 'prometheus']);
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const queried = new Set<string>();
  for (const p of d.panels.filter((x) => x.type !== 'row')) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
    assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: the datasource variable`);
    assert.ok(p.targets && p.targets.length > 0, `${p.title} has queries`);
    for (const t of p.targets) {
      assert.equal(t.datasource.uid, '${datasource}', p.title);
      for (const name of metricNames(t.expr)) {
        assert.ok(families.has(name), `${p.title} queries ${name}, which nothing emits`);
        queried.add(name);
      }
    }
  }
  for (const name of [
    'rait_link_up',
    'rait_link_handshake_age_seconds',
    'rait_link_receive_bytes_total',
    'rait_link_transmit_bytes_total',
  ]) {
    assert.ok(queried.has(name), `the dashboard shows ${name}`);
  }
  assert.ok(
    d.panels.some((p) => p.type === 'state-timeline' && p.targets?.some((t) => /^rait_link_up\{/.test(t.expr))),
    'the link matrix as a state timeline',
  );
});

test("the dashboard's queries are PromQL that Prometheus parses", { skip: promtoolMissing }, () => {
  // promtool parses expressions in rule files: one recording rule per query, Grafana's variables filled in.
  const exprs = dashboard()
    .panels.flatMap((p) => p.targets ?? [])
    .map((t) => t.expr.replaceAll('$__rate_interval', '5m').replace(/\$(job|node)\b/g, '.*'));
  const file = join(tempDir(), 'queries.yml');
  writeFileSync(
    file,
    stringifyYaml({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query${i}`, expr })) }] }),
  );
  const check = promtool(['check', 'rules', file]);
  assert.equal(check.code, 0, check.output);
});
