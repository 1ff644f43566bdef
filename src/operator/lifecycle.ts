import type { Clock } from '../ports/clock.ts';

/**
 * Small lifecycle helpers shared by the operator's components: tracked background work (so that
 * `stop()` leaves nothing running), per-key serial execution, and a wake-up signal for loops.
 */

/** True when `error` is the abort of `signal` (a loop ending because its component stopped). */
export function isAbortOf(signal: AbortSignal, error: unknown): boolean {
  return signal.aborted && (error === signal.reason || isAbortError(error));
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Sleeps through the clock; resolves false instead of throwing when `signal` aborts. */
export async function sleepUnlessAborted(
  clock: Clock,
  durationMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await clock.sleep(durationMs, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

/**
 * Background promises a component started: each has an error path, and `settle()` waits for all
 * of them, so that after `stop()` no work of the component is pending.
 */
export interface BackgroundWork {
  run(name: string, work: () => Promise<void>): void;
  /** How many are running. */
  size(): number;
  /** Resolves when every started piece of work has ended (including ones started meanwhile). */
  settle(): Promise<void>;
}

export function createBackgroundWork(
  onError: (name: string, error: unknown) => void,
): BackgroundWork {
  const running = new Set<Promise<void>>();
  return {
    run(name, work) {
      const promise: Promise<void> = (async () => {
        try {
          await work();
        } catch (error) {
          onError(name, error);
        }
      })();
      running.add(promise);
      void promise.finally(() => running.delete(promise));
    },
    size: () => running.size,
    async settle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

/**
 * Runs work for one key at a time, in arrival order (two rounds of one task never decide at
 * once). Keys with nothing queued are forgotten, so the map stays as small as the work in flight.
 */
export interface KeyedSerial {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createKeyedSerial(): KeyedSerial {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const next = previous.then(work, work);
      const tail = next.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return next;
    },
  };
}

/**
 * A level-triggered wake-up for a loop: `notify()` before `wait()` is not lost (the next `wait()`
 * returns at once), several notifies before a wait count as one.
 */
export interface WakeUp {
  notify(): void;
  /** Resolves on the next (or a pending) notify; rejects with the signal's reason on abort. */
  wait(signal: AbortSignal): Promise<void>;
}

export function createWakeUp(): WakeUp {
  let pending = false;
  let waiter: (() => void) | undefined;
  return {
    notify() {
      pending = true;
      const resolve = waiter;
      waiter = undefined;
      resolve?.();
    },
    wait(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          waiter = undefined;
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter = () => {
          signal.removeEventListener('abort', onAbort);
          pending = false;
          resolve();
        };
      });
    },
  };
}

/** The error a clock-driven timeout aborts with. */
export class OperationTimeoutError extends Error {
  override readonly name = 'OperationTimeoutError';
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not finish within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A signal that aborts when `parent` does or after `timeoutMs` on the clock (not on the wall
 * clock, so the simulator's virtual time governs it). Call `dispose()` when done.
 */
export function timeoutSignal(
  clock: Clock,
  parent: AbortSignal,
  timeoutMs: number,
  what: string,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timer = clock.setTimer(timeoutMs, () =>
    controller.abort(new OperationTimeoutError(what, timeoutMs)),
  );
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      timer.cancel();
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

/** Runs `work` on up to `concurrency` items at once; resolves when all are done. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Describes an unknown thrown value for a log line. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
