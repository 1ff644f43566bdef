import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Determinism for real I/O: every chain and database call of every node goes through one FIFO
 * gate, one call at a time, so calls complete in the order they were issued — which is itself
 * deterministic, because node code only runs on virtual-clock timers and I/O completions. The
 * virtual clock advances only once the gate is idle (`settle`).
 */
export interface IoGate {
  run<T>(call: () => Promise<T>): Promise<T>;
  inFlight(): number;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Calls passed through so far. */
  count(): number;
}

export function createIoGate(): IoGate {
  // A gated call that makes another gated call (a wrapper calling a wrapped port) runs the inner
  // one directly instead of queueing behind itself.
  const inside = new AsyncLocalStorage<true>();
  let tail: Promise<unknown> = Promise.resolve();
  let inFlight = 0;
  let total = 0;
  let waiters: (() => void)[] = [];
  const done = () => {
    inFlight--;
    if (inFlight === 0) {
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    }
  };
  return {
    run<T>(call: () => Promise<T>): Promise<T> {
      if (inside.getStore()) return call();
      inFlight++;
      total++;
      const result = tail.then(() => inside.run(true, call));
      tail = result.then(
        () => undefined,
        () => undefined,
      );
      void tail.then(done);
      return result;
    },
    inFlight: () => inFlight,
    idle: () =>
      inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
    count: () => total,
  };
}

/**
 * Wraps every method of `target` (and of its nested repository objects) so each call runs
 * through the gate. `transaction(work)` is gated as one call; the `tx` it hands to `work` is not
 * (its queries run inside the gated call), which also avoids waiting on ourselves.
 */
export function gateAll<T extends object>(
  target: T,
  gate: IoGate,
  options: { skip?: readonly string[] } = {},
): T {
  const skip = new Set(options.skip ?? []);
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property, receiver) {
      if (cache.has(property)) return cache.get(property);
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof property !== 'string' || skip.has(property)) return value;
      let wrapped: unknown = value;
      if (typeof value === 'function') {
        const fn = value as (...args: unknown[]) => unknown;
        wrapped = (...args: unknown[]) => gate.run(async () => fn.apply(object, args));
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        wrapped = gateAll(value as object, gate);
      }
      cache.set(property, wrapped);
      return wrapped;
    },
  });
}
