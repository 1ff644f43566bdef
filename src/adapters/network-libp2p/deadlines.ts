/**
 * Every timer the adapter starts goes through one Deadlines, so that `stop()` can clear whatever
 * is still pending and leave nothing behind to keep the process alive.
 */
export interface Deadlines {
  /** Aborts the returned controller after `timeoutMs`; `cancel()` clears the timer early. */
  start(timeoutMs: number, reason: () => Error): Deadline;
  /** Clears every pending timer (their controllers are not aborted). */
  clearAll(): void;
}

export interface Deadline {
  readonly signal: AbortSignal;
  cancel(): void;
}

export function createDeadlines(): Deadlines {
  const pending = new Set<ReturnType<typeof setTimeout>>();
  return {
    start(timeoutMs, reason) {
      const controller = new AbortController();
      const timer = setTimeout(() => {
        pending.delete(timer);
        controller.abort(reason());
      }, timeoutMs);
      pending.add(timer);
      return {
        signal: controller.signal,
        cancel() {
          clearTimeout(timer);
          pending.delete(timer);
        },
      };
    },
    clearAll() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
