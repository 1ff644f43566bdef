import type { Clock, TimerHandle } from '../../ports/clock.ts';

/** The wall clock and Node's timers, for production wiring. */
export function createSystemClock(): Clock {
  return {
    now: () => Date.now(),
    sleep: (durationMs, options) =>
      new Promise<void>((resolve, reject) => {
        const signal = options?.signal;
        if (signal?.aborted) return reject(signal.reason);
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, durationMs);
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    setTimer: (delayMs, callback): TimerHandle => {
      const timer = setTimeout(callback, delayMs);
      return { cancel: () => clearTimeout(timer) };
    },
  };
}
