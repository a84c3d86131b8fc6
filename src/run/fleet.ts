/**
 * Runs one task per node, at most `forks` at once (p-limit), and reports progress: listr2 on a TTY,
 * one line per event otherwise, nothing for --json. All progress goes to stderr; stdout stays for results.
 * A task that throws fails only its own node.
 */
import pLimit from 'p-limit';
import { InputError } from '../errors.js';
import { describeEnd, timed, type TaskResult, type TaskRunner, type StepReporter } from './task-result.js';

export type { TaskResult, StepReporter } from './task-result.js';

export type OutputMode = 'tty' | 'plain' | 'json';

/** listr2 on a terminal, plain lines elsewhere, nothing when stdout carries a JSON document (or a redrawn screen). */
export function progressOutput(quiet: boolean): OutputMode {
  return quiet ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
}

export interface FleetOptions {
  forks: number;
  output: OutputMode;
  /** What the run does ("deploy", "status"), shown as the first progress line. */
  title: string;
  /** Progress destination; stderr unless a test wants it. */
  stream?: NodeJS.WritableStream;
}

export async function runFleet<I extends { name: string }, T>(
  items: I[],
  opts: FleetOptions,
  task: (item: I, setStep: StepReporter) => Promise<T>,
): Promise<Map<string, TaskResult<T>>> {
  if (!Number.isInteger(opts.forks) || opts.forks < 1) {
    throw new InputError(`must be a positive integer, got ${opts.forks}`, { field: '--forks' });
  }
  const limit = pLimit(opts.forks);
  const results = new Map<string, TaskResult<T>>();
  const run: TaskRunner<I, T> = (item, progress) =>
    limit(async () => {
      const result = await timed(() => task(item, progress.step));
      results.set(item.name, result);
      progress.end(result);
      return result;
    });
  const stream = opts.stream ?? process.stderr;
  if (opts.output !== 'json') stream.write(`${opts.title}: ${plural(items.length, 'node')}, at most ${opts.forks} at a time\n`);
  if (opts.output === 'tty') {
    // listr2 costs ~80 ms to load: only a terminal gets it, not scripts, CI or --json.
    const { runWithListr } = await import('./tty-progress.js');
    await runWithListr(items, stream, run);
  } else {
    const say = opts.output === 'plain' ? (line: string) => void stream.write(`${line}\n`) : () => {};
    await Promise.all(
      items.map((item) =>
        run(item, {
          step: (step) => say(`[${item.name}] ${step}`),
          end: (result) => say(`[${item.name}] ${describeEnd(result)}`),
        }),
      ),
    );
  }
  return new Map(items.map((item) => [item.name, results.get(item.name)!]));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
