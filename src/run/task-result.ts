/** One task's result in a fleet run (a node's), and how it is timed and described. */

export type TaskResult<T> = { ok: true; value: T; ms: number } | { ok: false; error: Error; ms: number };

export type StepReporter = (step: string) => void;

/** What a progress display hears about one node. */
export interface TaskProgress<T> {
  step: StepReporter;
  /** Called while the node still holds its parallelism slot, so lines come out in order. */
  end: (result: TaskResult<T>) => void;
}

/** Runs a node's task under the parallelism bound, reporting its progress. */
export type TaskRunner<I, T> = (item: I, progress: TaskProgress<T>) => Promise<TaskResult<T>>;

/** Never throws: a failure becomes `{ ok: false }`, so one node cannot stop the others. */
export async function timed<T>(fn: () => Promise<T>): Promise<TaskResult<T>> {
  const start = performance.now();
  const ms = (): number => Math.round(performance.now() - start);
  try {
    const value = await fn();
    return { ok: true, value, ms: ms() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e : new Error(String(e)), ms: ms() };
  }
}

/** `done in 0.4 s` or `failed: reason`. */
export function describeEnd(result: TaskResult<unknown>): string {
  return result.ok ? `done in ${(result.ms / 1000).toFixed(1)} s` : `failed: ${result.error.message}`;
}
