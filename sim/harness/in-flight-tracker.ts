/**
 * Network work that runs on real time, counted so the virtual clock can wait for it. On the real
 * libp2p stack a message takes real milliseconds to cross; node code, on the virtual clock, must
 * not see time move while it does, or a task's 3 s response deadline could pass while the
 * responses are still in a stream. The simulator's `settle()` therefore waits for the I/O gate
 * and for this tracker to be idle.
 *
 * Work is counted from `begin()` until `end()`; it may `pause()` while it waits on something that
 * is not real-time network work (a handler running node code, which advances through the gate
 * and the virtual clock) and `resume()` after. A piece counted for longer than `stallAfterMs` of
 * wall time stops counting (a lost message must not hang the run) and is reported once through
 * `onStall`.
 */

export interface TrackedWork {
  readonly label: string;
  /** Stops counting until `resume()`. */
  pause(): void;
  resume(): void;
  /** Done: never counted again. Idempotent. */
  end(): void;
  readonly ended: boolean;
}

export interface InFlightTracker {
  begin(label: string): TrackedWork;
  /** Counts as work until `predicate()` holds (checked every few wall milliseconds). */
  waitFor(label: string, predicate: () => boolean): void;
  /** True while some work is counted and has not stalled. */
  busy(): boolean;
  /** Resolves when nothing is counted (or everything counted has stalled). */
  idle(): Promise<void>;
  /** Work counted now (stalled work included). */
  inFlight(): number;
  /** How many pieces of work stalled so far. */
  stallCount(): number;
  /** Changes the stall bound (e.g. longer while a hundred nodes start at once). */
  setStallAfterMs(stallAfterMs: number): void;
  /** Ends every piece of work and condition; waiters resolve. */
  clear(): void;
}

export interface InFlightTrackerOptions {
  /** Wall milliseconds after which one piece of counted work no longer holds virtual time. */
  stallAfterMs: number;
  /** How often conditions are re-checked, in wall milliseconds. */
  pollIntervalMs?: number;
  /** Wall time source (injectable for tests). */
  nowMs?: () => number;
  onStall?: (label: string, countedForMs: number) => void;
}

interface Entry {
  label: string;
  /** Wall time it (re)started counting. */
  sinceMs: number;
  stalled: boolean;
}

export function createInFlightTracker(options: InFlightTrackerOptions): InFlightTracker {
  const nowMs = options.nowMs ?? (() => performance.now());
  let stallAfterMs = options.stallAfterMs;
  const pollIntervalMs = options.pollIntervalMs ?? 2;
  const counted = new Set<Entry>();
  const conditions = new Map<Entry, () => boolean>();
  let stalls = 0;
  let waiters: (() => void)[] = [];
  let wakeTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeAtMs = 0;

  /** Marks entries counted for too long as stalled; true if any live entry remains. */
  const sweep = (): boolean => {
    const now = nowMs();
    let live = false;
    for (const [entry, predicate] of conditions) {
      if (predicate()) {
        conditions.delete(entry);
        counted.delete(entry);
      }
    }
    for (const entry of counted) {
      if (entry.stalled) continue;
      if (now - entry.sinceMs >= stallAfterMs) {
        entry.stalled = true;
        stalls++;
        options.onStall?.(entry.label, now - entry.sinceMs);
        continue;
      }
      live = true;
    }
    return live;
  };

  const wake = () => {
    if (waiters.length === 0) return;
    if (sweep()) {
      schedule();
      return;
    }
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  };

  /** Re-checks soon: conditions need polling, and the next stall must be noticed. */
  const schedule = () => {
    if (waiters.length === 0) return;
    let delayMs = conditions.size > 0 ? pollIntervalMs : stallAfterMs;
    const now = nowMs();
    for (const entry of counted) {
      if (!entry.stalled) delayMs = Math.min(delayMs, entry.sinceMs + stallAfterMs - now + 1);
    }
    delayMs = Math.max(0, delayMs);
    if (wakeTimer !== undefined) {
      if (wakeAtMs <= now + delayMs) return;
      clearTimeout(wakeTimer);
    }
    wakeAtMs = now + delayMs;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      wake();
    }, delayMs);
    wakeTimer.unref?.();
  };

  const release = (entry: Entry) => {
    counted.delete(entry);
    if (waiters.length > 0) queueMicrotask(wake);
  };

  return {
    begin(label) {
      const entry: Entry = { label, sinceMs: nowMs(), stalled: false };
      counted.add(entry);
      let state: 'counted' | 'paused' | 'ended' = 'counted';
      return {
        label,
        pause() {
          if (state !== 'counted') return;
          state = 'paused';
          release(entry);
        },
        resume() {
          if (state !== 'paused') return;
          state = 'counted';
          entry.sinceMs = nowMs();
          entry.stalled = false;
          counted.add(entry);
        },
        end() {
          if (state === 'ended') return;
          const wasCounted = state === 'counted';
          state = 'ended';
          if (wasCounted) release(entry);
        },
        get ended() {
          return state === 'ended';
        },
      };
    },
    waitFor(label, predicate) {
      if (predicate()) return;
      const entry: Entry = { label, sinceMs: nowMs(), stalled: false };
      counted.add(entry);
      conditions.set(entry, predicate);
      schedule();
    },
    busy: () => sweep(),
    idle() {
      if (!sweep()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        schedule();
      });
    },
    inFlight: () => counted.size,
    stallCount: () => stalls,
    setStallAfterMs(value) {
      stallAfterMs = value;
      if (wakeTimer !== undefined) clearTimeout(wakeTimer);
      wakeTimer = undefined;
      schedule();
    },
    clear() {
      counted.clear();
      conditions.clear();
      if (wakeTimer !== undefined) clearTimeout(wakeTimer);
      wakeTimer = undefined;
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    },
  };
}
