/**
 * Time as node code sees it. Production wires the system clock; the simulator wires a virtual
 * clock that moves only when the scheduler advances it, so runs replay exactly from a seed.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `durationMs`; rejects with the signal's reason when aborted first. */
  sleep(durationMs: number, options?: { signal?: AbortSignal }): Promise<void>;
  /** Runs `callback` once after `delayMs`; the handle cancels it. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}
