/** listr2 progress on a terminal: one concurrent task per node whose title shows its current step. */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { describeEnd, type TaskRunner } from './task-result.js';

export async function runWithListr<I extends { name: string }, T>(
  items: I[],
  stream: NodeJS.WritableStream,
  run: TaskRunner<I, T>,
): Promise<void> {
  const out = stream as NodeJS.WriteStream;
  const logger = new ListrLogger({ processOutput: new ProcessOutput(out, out) });
  const listr = new Listr(
    items.map((item) => ({
      title: `${item.name}: waiting`,
      task: async (_ctx: unknown, t: { title: string | undefined }) => {
        const result = await run(item, {
          step: (step) => {
            t.title = `${item.name}: ${step}`;
          },
          end: (r) => {
            t.title = `${item.name}: ${describeEnd(r)}`;
          },
        });
        // listr marks the line failed; exitOnError: false lets the other nodes go on.
        if (!result.ok) throw result.error;
      },
    })),
    {
      // p-limit bounds the real work; every node gets its line at once, shown as "waiting" until it starts.
      concurrent: true,
      exitOnError: false,
      renderer: 'default',
      rendererOptions: { logger, showErrorMessage: false },
      // listr2 picks the fallback when stdout (not our stream) is no TTY, e.g. `deploy --json | jq`.
      fallbackRenderer: 'simple',
      fallbackRendererOptions: { logger },
    },
  );
  await listr.run();
}
