/**
 * Runs work for one key at a time, in arrival order, so replies and timer ticks of one task never
 * interleave. Keys with nothing queued are forgotten.
 */
export function createSerialQueue(onError: (key: string, error: unknown) => void) {
  const tails = new Map<string, Promise<void>>();
  return {
    run(key: string, work: () => Promise<void>): Promise<void> {
      const previous = tails.get(key) ?? Promise.resolve();
      const next = previous.then(work).catch((error: unknown) => onError(key, error));
      tails.set(key, next);
      void next.finally(() => {
        if (tails.get(key) === next) tails.delete(key);
      });
      return next;
    },
    /** Resolves when everything queued so far has run. */
    async drain(): Promise<void> {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },
  };
}
