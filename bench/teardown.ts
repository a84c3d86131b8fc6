// What the benchmark must undo however it ends (labs, a raised limit): registered as it is made,
// undone in reverse order when that part ends, or all at once on failure or Ctrl-C.
export class Teardown {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  constructor(private readonly log: (m: string) => void) {}

  /** Registers `undo`; the returned function runs it now (once) and forgets it. */
  add(what: string, undo: () => Promise<void>): () => Promise<void> {
    const step = { what, undo };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await undo();
    };
  }

  /** Undoes everything still registered, newest first; a failing step is reported and the rest still run. */
  async all(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      await step.undo().catch((e: unknown) => this.log(`${step.what}: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}
