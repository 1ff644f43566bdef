/**
 * Runs work for one key at a time, in arrival order, so replies and timer ticks of one task never
 * interleave. Keys with nothing queued are forgotten.
 */
export function createSerialQueue(onError: (key: string, error: unknown) => void) {
  const tails = new Map<string, Promise<void>>();

  function call<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const result = previous.then(work);
    const next = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, next);
    void next.finally(() => {
      if (tails.get(key) === next) tails.delete(key);
    });
    return result;
  }

  return {
    /** Queues `work`; a failure goes to `onError`, never to the caller. */
    run(key: string, work: () => Promise<void>): Promise<void> {
      return call(key, work).catch((error: unknown) => onError(key, error));
    },
    /** Queues `work` and hands its result or failure to the caller. */
    call,
    /** Resolves when everything queued so far has run. */
    async drain(): Promise<void> {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },
  };
}
