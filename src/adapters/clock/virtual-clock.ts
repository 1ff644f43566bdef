import type { Clock, TimerHandle } from '../../ports/clock.ts';

/**
 * Virtual time for the simulator and tests: time moves only when `advanceTo` / `advanceBy` is
 * called, and timers fire in (due time, creation order) — the same order on every run. Between two
 * timers the clock waits for the system to go quiet (`settle`, e.g. "no chain or database call in
 * flight"), so everything a timer's callback sets off happens at that virtual instant; with
 * `sameInstantTogether`, the timers of one instant fire together and the clock waits after them.
 */
export interface VirtualClock extends Clock {
  /** Fires every timer due at or before `targetMs`, in order, then sets now = targetMs. */
  advanceTo(targetMs: number): Promise<void>;
  advanceBy(durationMs: number): Promise<void>;
  /**
   * A timer that fires alone: every timer due before it has fired and the system is quiet, and
   * nothing else fires until what it set off is done (the harness's own steps: mining, checks).
   */
  setExclusiveTimer(delayMs: number, callback: () => void): TimerHandle;
  /**
   * While an advance settles an instant: fires the ordinary timers that have become due at it
   * since (a zero-delay timer: a message on an instant link), so they need not wait until the
   * system is quiet. The harness calls it at points fixed by the order of events (between two
   * I/O hand-backs), which keeps runs deterministic. Returns whether any fired.
   */
  fireDueNow(): boolean;
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
  exclusive: boolean;
}

/** Lets pending promise chains and I/O callbacks run: a few macrotask turns. */
export async function yieldTurns(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export interface VirtualClockOptions {
  startMs?: number;
  /** Waits until the system is quiet at the current instant (default: a few event-loop turns). */
  settle?: () => Promise<void>;
  /**
   * Timers due at one instant fire together before the clock waits, and `fireDueNow` fires the
   * ones that become due meanwhile (the simulator: nodes run side by side). Without it (tests that
   * step through one delivery at a time) the clock waits after every timer and `fireDueNow` does
   * nothing.
   */
  sameInstantTogether?: boolean;
}

export function createVirtualClock(options: VirtualClockOptions = {}): VirtualClock {
  let nowMs = options.startMs ?? 0;
  let seq = 0;
  // A sorted array is enough for the timer counts a simulation has (thousands); insertion keeps
  // order by (atMs, seq).
  const timers: PendingTimer[] = [];
  const settle = options.settle ?? (() => yieldTurns());
  const together = options.sameInstantTogether === true;

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

  const addTimer = (delayMs: number, callback: () => void, exclusive: boolean): TimerHandle => {
    const timer: PendingTimer = {
      atMs: nowMs + Math.max(0, Math.ceil(delayMs)),
      seq: seq++,
      callback,
      cancelled: false,
      exclusive,
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

  const setTimer = (delayMs: number, callback: () => void) => addTimer(delayMs, callback, false);

  /** Whether an advance is running the timers of the current instant (`fireDueNow` may fire). */
  let advancing = false;
  /**
   * Fires every ordinary timer due at the current instant, in order, up to the first exclusive
   * one, without waiting in between: what they set off runs side by side, as on independent
   * machines. Returns whether any fired.
   */
  const fireDue = (): boolean => {
    const due: PendingTimer[] = [];
    while (timers[0] !== undefined && timers[0].atMs === nowMs && !timers[0].exclusive) {
      due.push(timers.shift() as PendingTimer);
    }
    for (const timer of due) {
      if (timer.cancelled) continue;
      timer.cancelled = true;
      timer.callback();
    }
    return due.length > 0;
  };
  const clock: VirtualClock = {
    now: () => nowMs,
    setTimer,
    setExclusiveTimer: (delayMs, callback) => addTimer(delayMs, callback, true),
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
        nowMs = next.atMs;
        advancing = true;
        try {
          if (next.exclusive || !together) {
            timers.shift();
            next.cancelled = true;
            next.callback();
          } else {
            fireDue();
          }
          await settle();
        } finally {
          advancing = false;
        }
      }
      nowMs = targetMs;
      await settle();
    },
    fireDueNow: () => together && advancing && fireDue(),
    advanceBy(durationMs) {
      return clock.advanceTo(nowMs + durationMs);
    },
    nextTimerAtMs: () => timers[0]?.atMs,
    pendingTimerCount: () => timers.length,
    settle,
  };
  return clock;
}
