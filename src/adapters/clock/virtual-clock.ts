import type { Clock, TimerHandle } from '../../ports/clock.ts';

/**
 * Virtual time for the simulator and tests: time moves only when `advanceTo` / `advanceBy` is
 * called, and timers fire in (due time, creation order) — the same order on every run. Between two
 * timers the clock waits for the system to go quiet (`settle`, e.g. "no chain or database call in
 * flight"), so everything a timer's callback sets off happens at that virtual instant.
 */
export interface VirtualClock extends Clock {
  /** Fires every timer due at or before `targetMs`, in order, then sets now = targetMs. */
  advanceTo(targetMs: number): Promise<void>;
  advanceBy(durationMs: number): Promise<void>;
  /** Due time of the earliest pending timer. */
  nextTimerAtMs(): number | undefined;
  pendingTimerCount(): number;
  /** Waits until the system is quiet at the current instant. */
  settle(): Promise<void>;
}

interface PendingTimer {
  atMs: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Lets pending promise chains and I/O callbacks run: a few macrotask turns. */
export async function yieldTurns(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function createVirtualClock(
  options: { startMs?: number; settle?: () => Promise<void> } = {},
): VirtualClock {
  let nowMs = options.startMs ?? 0;
  let seq = 0;
  // A sorted array is enough for the timer counts a simulation has (thousands); insertion keeps
  // order by (atMs, seq).
  const timers: PendingTimer[] = [];
  const settle = options.settle ?? (() => yieldTurns());

  const insert = (timer: PendingTimer) => {
    let low = 0;
    let high = timers.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = timers[mid] as PendingTimer;
      if (other.atMs < timer.atMs || (other.atMs === timer.atMs && other.seq < timer.seq))
        low = mid + 1;
      else high = mid;
    }
    timers.splice(low, 0, timer);
  };

  const setTimer = (delayMs: number, callback: () => void): TimerHandle => {
    const timer: PendingTimer = {
      atMs: nowMs + Math.max(0, Math.ceil(delayMs)),
      seq: seq++,
      callback,
      cancelled: false,
    };
    insert(timer);
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        const index = timers.indexOf(timer);
        if (index !== -1) timers.splice(index, 1);
      },
    };
  };

  const clock: VirtualClock = {
    now: () => nowMs,
    setTimer,
    sleep: (durationMs, opts) =>
      new Promise<void>((resolve, reject) => {
        const signal = opts?.signal;
        if (signal?.aborted) return reject(signal.reason);
        const handle = setTimer(durationMs, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        const onAbort = () => {
          handle.cancel();
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    async advanceTo(targetMs) {
      if (targetMs < nowMs)
        throw new RangeError(`cannot move virtual time back from ${nowMs} to ${targetMs}`);
      await settle();
      for (;;) {
        const next = timers[0];
        if (!next || next.atMs > targetMs) break;
        timers.shift();
        nowMs = next.atMs;
        next.callback();
        await settle();
      }
      nowMs = targetMs;
      await settle();
    },
    advanceBy(durationMs) {
      return clock.advanceTo(nowMs + durationMs);
    },
    nextTimerAtMs: () => timers[0]?.atMs,
    pendingTimerCount: () => timers.length,
    settle,
  };
  return clock;
}
