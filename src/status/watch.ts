// --watch: run a round, wait, run again, until SIGINT. Rounds never overlap.

/**
 * Runs `round` every `intervalMs` (counted from the end of the previous round) until SIGINT, and
 * returns the last round's result. The first Ctrl-C ends the wait at once or lets the running round
 * finish (its SSH timeouts bound it); a second one exits immediately with 130.
 */
export async function repeatUntilInterrupted<T>(intervalMs: number, round: () => Promise<T>): Promise<T> {
  let stopping = false;
  let wake = (): void => {};
  const onSigint = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    wake();
  };
  process.on('SIGINT', onSigint);
  try {
    let last = await round();
    while (!stopping) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!stopping) last = await round();
    }
    return last;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
