import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Determinism for real I/O: every chain and database call of every node goes through one gate,
 * and the gate hands results back strictly in the order the calls were issued, one per turn of
 * the event loop — which is itself deterministic, because node code only runs on virtual-clock
 * timers and on those hand-backs. The virtual clock advances only once the gate is idle
 * (`settle`).
 *
 * Calls on independent resources may *run* at the same time: a call issued with a `lane` (one
 * lane per resource: each Anvil chain, the PGlite instance) starts as soon as no earlier call of
 * its lane is still running, so an Anvil round trip overlaps the PGlite work of another node.
 * Within a lane calls run one at a time, in issue order, so each resource sees exactly the
 * sequence it saw behind a plain FIFO gate; a call without a lane runs alone (everything issued
 * before it has been handed back, nothing after it starts until it has been), as every call did
 * before lanes. A `shared` call (a read that changes nothing) may also run alongside the other
 * shared calls of its lane — a chain's reads between two of its writes see the same state in any
 * order, and sent together they travel as one JSON-RPC batch — but never alongside, or ahead of,
 * an exclusive call of its lane. Only when results are handed back matters to node code, and that
 * order is fixed.
 */
export interface IoGate {
  run<T>(call: () => Promise<T>, options?: GateCallOptions): Promise<T>;
  /** Calls issued and not handed back yet. */
  inFlight(): number;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Calls passed through so far. */
  count(): number;
}

export interface GateCallOptions {
  /**
   * The resource the call touches ("pglite", "chain:31337"): calls of different lanes may run
   * concurrently. Leave it out for a call that may touch several resources: it runs alone.
   */
  lane?: string;
  /**
   * The call only reads its lane's resource: it may run at the same time as other shared calls
   * of the lane (see the interface comment). Ignored without a lane.
   */
  shared?: boolean;
}

interface Entry {
  readonly call: () => Promise<unknown>;
  readonly lane: string | undefined;
  readonly shared: boolean;
  started: boolean;
  outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface IoGateOptions {
  /**
   * Runs in the event-loop turn after each hand-back, before the next one; when it returns true
   * (it set something off), the gate waits one more turn, then asks again. The simulator fires
   * the timers that became due at the current virtual instant here, so a message on an instant
   * link is delivered while other nodes' I/O is still running, at a point fixed by the order of
   * hand-backs rather than by when the I/O finishes.
   */
  betweenHandBacks?: () => boolean;
}

export function createIoGate(options: IoGateOptions = {}): IoGate {
  // A gated call that makes another gated call (a wrapper calling a wrapped port) runs the inner
  // one directly instead of queueing behind itself.
  const inside = new AsyncLocalStorage<true>();
  /** Issued and not handed back, in issue order. */
  const queue: Entry[] = [];
  let total = 0;
  let handingBack = false;
  let waiters: (() => void)[] = [];

  const start = (entry: Entry) => {
    entry.started = true;
    inside
      .run(true, entry.call)
      .then(
        (value) => {
          entry.outcome = { ok: true, value };
        },
        (error: unknown) => {
          entry.outcome = { ok: false, error };
        },
      )
      .finally(() => {
        handBack();
        startReady();
      });
  };

  /** Starts every call that may start now (see the interface comment for the rule). */
  const startReady = () => {
    /** Lanes whose later calls must wait; `reading`: only shared calls run there so far. */
    const lanes = new Map<string, 'reading' | 'blocked'>();
    for (const [index, entry] of queue.entries()) {
      if (entry.lane === undefined) {
        // Runs alone: only once everything before it is handed back; nothing after it starts.
        if (index === 0 && !entry.started) start(entry);
        return;
      }
      const lane = lanes.get(entry.lane);
      if (entry.started) {
        if (entry.outcome === undefined && lane !== 'blocked') {
          lanes.set(entry.lane, entry.shared ? 'reading' : 'blocked');
        }
      } else if (lane === undefined || (lane === 'reading' && entry.shared)) {
        start(entry);
        lanes.set(entry.lane, entry.shared ? 'reading' : 'blocked');
      } else {
        // Later calls of this lane wait for this one; other lanes may go on.
        lanes.set(entry.lane, 'blocked');
      }
    }
  };

  /**
   * Hands back the oldest call once it is done, then waits one event-loop turn before the next,
   * so everything the previous result triggered (and every call it issued) has happened first,
   * however early the next call finished.
   */
  const handBack = () => {
    if (handingBack) return;
    const head = queue[0];
    if (head?.outcome === undefined) return;
    queue.shift();
    handingBack = true;
    if (head.outcome.ok) head.resolve(head.outcome.value);
    else head.reject(head.outcome.error);
    const nextTurn = () => {
      if (options.betweenHandBacks?.() === true) {
        setImmediate(nextTurn);
        return;
      }
      handingBack = false;
      if (queue.length === 0) {
        const ready = waiters;
        waiters = [];
        for (const resolve of ready) resolve();
        return;
      }
      handBack();
      startReady();
    };
    setImmediate(nextTurn);
  };

  return {
    run<T>(call: () => Promise<T>, options: GateCallOptions = {}): Promise<T> {
      if (inside.getStore()) return call();
      total++;
      return new Promise<T>((resolve, reject) => {
        queue.push({
          call,
          lane: options.lane,
          shared: options.shared === true,
          started: false,
          outcome: undefined,
          resolve: resolve as (value: unknown) => void,
          reject,
        });
        startReady();
      });
    },
    inFlight: () => queue.length + (handingBack ? 1 : 0),
    idle: () =>
      queue.length === 0 && !handingBack
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push(resolve)),
    count: () => total,
  };
}

/**
 * Wraps every method of `target` (and of its nested repository objects) so each call runs
 * through the gate, in `options.lane` when given (as shared calls with `shared`: for a port whose
 * every method only reads). `transaction(work)` is gated as one call; the `tx` it hands to `work`
 * is not (its queries run inside the gated call), which also avoids waiting on ourselves.
 */
export function gateAll<T extends object>(
  target: T,
  gate: IoGate,
  options: { skip?: readonly string[]; lane?: string; shared?: boolean } = {},
): T {
  const skip = new Set(options.skip ?? []);
  const callOptions: GateCallOptions =
    options.lane === undefined
      ? {}
      : { lane: options.lane, ...(options.shared === true ? { shared: true } : {}) };
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property, receiver) {
      if (cache.has(property)) return cache.get(property);
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof property !== 'string' || skip.has(property)) return value;
      let wrapped: unknown = value;
      if (typeof value === 'function') {
        const fn = value as (...args: unknown[]) => unknown;
        wrapped = (...args: unknown[]) => gate.run(async () => fn.apply(object, args), callOptions);
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        wrapped = gateAll(value as object, gate, callOptions);
      }
      cache.set(property, wrapped);
      return wrapped;
    },
  });
}
