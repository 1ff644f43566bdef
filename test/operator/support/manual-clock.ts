import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Clock, TimerHandle } from '../../../src/ports/clock.ts';

/** A pending sleep or timer of a manual clock. */
export interface PendingWait {
  readonly kind: 'sleep' | 'timer';
  readonly durationMs: number;
  readonly dueAtMs: number;
}

/**
 * A clock that moves only when told (like the simulator's): `advance` fires due sleeps and timers
 * in time order, letting promise callbacks run between them.
 */
export interface ManualClock extends Clock {
  advance(durationMs: number): Promise<void>;
  /** Sleeps and timers not yet due, earliest first. */
  pending(): PendingWait[];
}

export const MANUAL_CLOCK_START_MS = 1_700_000_000_000;

export function createManualClock(startMs = MANUAL_CLOCK_START_MS): ManualClock {
  let nowMs = startMs;
  let nextId = 0;
  const waits = new Map<number, PendingWait & { fire(): void }>();

  const schedule = (kind: PendingWait['kind'], durationMs: number, fire: () => void): number => {
    const id = nextId++;
    waits.set(id, { kind, durationMs, dueAtMs: nowMs + Math.max(0, durationMs), fire });
    return id;
  };

  return {
    now: () => nowMs,
    sleep(durationMs, options) {
      const signal = options?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          waits.delete(id);
          reject(signal?.reason);
        };
        const id = schedule('sleep', durationMs, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    setTimer(delayMs, callback): TimerHandle {
      const id = schedule('timer', delayMs, callback);
      return { cancel: () => waits.delete(id) };
    },
    async advance(durationMs) {
      const targetMs = nowMs + durationMs;
      for (;;) {
        let nextKey: number | undefined;
        let next: (PendingWait & { fire(): void }) | undefined;
        for (const [key, wait] of waits) {
          if (wait.dueAtMs <= targetMs && (next === undefined || wait.dueAtMs < next.dueAtMs)) {
            next = wait;
            nextKey = key;
          }
        }
        if (next === undefined || nextKey === undefined) break;
        waits.delete(nextKey);
        nowMs = Math.max(nowMs, next.dueAtMs);
        next.fire();
        await flush();
      }
      nowMs = targetMs;
      await flush();
    },
    pending: () =>
      [...waits.values()]
        .map(({ kind, durationMs, dueAtMs }) => ({ kind, durationMs, dueAtMs }))
        .sort((a, b) => a.dueAtMs - b.dueAtMs),
  };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await nextMacrotask();
}
