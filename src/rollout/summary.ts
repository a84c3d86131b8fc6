// What a rollout did, in words, after deploy's table. Pure.
import type { RolloutReport } from './run.js';

export function formatRollout(r: RolloutReport): string[] {
  const lines = r.gates.map((g) => {
    const nodes = r.batches[g.batch - 1]!.join(', ');
    const head = `gate of batch ${g.batch} of ${r.batches.length} (${nodes}): ${g.passed ? 'passed' : 'failed'} in ${g.seconds} s, ${g.links} link${g.links === 1 ? '' : 's'} checked`;
    return [head, ...g.failing.map((f) => `  ${f.node}: ${f.reasons.join('; ')}`)].join('\n');
  });
  if (!r.stopped) return lines;
  lines.push(`rollout stopped${r.batches.length > 1 ? ` at batch ${r.stopped.batch} of ${r.batches.length}` : ''}: ${r.stopped.reason}`);
  const by = (who: string): string[] => r.rolledBack.filter((e) => e.ok && e.by === who).map((e) => e.node);
  const restored = [
    ...(by('control').length ? [`${by('control').join(', ')} by rait-fleet`] : []),
    ...(by('switch').length
      ? [`${by('switch').join(', ')} by ${by('switch').length === 1 ? 'its own switch' : 'their own switches'}`]
      : []),
  ];
  const failed = r.rolledBack.filter((e) => !e.ok);
  if (restored.length) lines.push(`rolled back: ${restored.join('; ')}`);
  for (const e of failed) lines.push(`${e.node}: NOT rolled back: ${e.error}`);
  lines.push(
    failed.length === 0
      ? `the mesh is restored: every node this deploy had changed in batch ${r.stopped.batch} is back on its previous plan (the inventory still holds the change)`
      : `the mesh is NOT fully restored: look at ${failed.map((e) => e.node).join(', ')} (rait-fleet status)`,
  );
  const skipped = r.batches.slice(r.stopped.batch).flat();
  if (skipped.length) lines.push(`not deployed: ${skipped.join(', ')} (later batches)`);
  return lines;
}
