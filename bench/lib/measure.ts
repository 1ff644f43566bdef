/**
 * Small timing and statistics helpers shared by the bench workers. Wall time comes from
 * `performance.now()` (monotonic, sub-millisecond); nothing here is used by node code.
 */
import { percentile } from '../../sim/report/format.ts';

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

/** p50/p95/p99 (nearest rank, as the simulator reports them), mean, min and max. */
export function summarizeLatencies(valuesMs: readonly number[]): LatencySummary | undefined {
  if (valuesMs.length === 0) return undefined;
  const sum = valuesMs.reduce((total, value) => total + value, 0);
  return {
    count: valuesMs.length,
    p50Ms: percentile(valuesMs, 50) as number,
    p95Ms: percentile(valuesMs, 95) as number,
    p99Ms: percentile(valuesMs, 99) as number,
    meanMs: sum / valuesMs.length,
    minMs: Math.min(...valuesMs),
    maxMs: Math.max(...valuesMs),
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  return percentile(values, 50) as number;
}

/** Runs `work` `repetitions` times and returns each run's wall time in ms. */
export async function timeRepeated(repetitions: number, work: () => unknown): Promise<number[]> {
  const timesMs: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const startMs = performance.now();
    await work();
    timesMs.push(performance.now() - startMs);
  }
  return timesMs;
}

export interface Throughput {
  /**
   * Operations per second in the best round: on a shared machine the least-disturbed round is
   * the closest to what the code can do (other work only ever makes a round slower).
   */
  opsPerSec: number;
  medianOpsPerSec: number;
  /** Every round's rate, to show the spread on a busy machine. */
  roundsOpsPerSec: number[];
}

/**
 * Measures several synchronous candidates on the same inputs: each calls `operation(i)` for i in
 * [0, count), once as a warm-up and then `rounds` times, the candidates taking turns within
 * each round (in a rotating order) so that a change in machine load hits all of them alike.
 * Synchronous work on one thread is one core's throughput.
 */
export function compareThroughput<K extends string>(
  count: number,
  rounds: number,
  candidates: Record<K, (index: number) => unknown>,
): Record<K, Throughput> {
  const names = Object.keys(candidates) as K[];
  const runOnce = (name: K): number => {
    const operation = candidates[name];
    const startMs = performance.now();
    for (let i = 0; i < count; i++) operation(i);
    return count / ((performance.now() - startMs) / 1000);
  };
  for (const name of names) runOnce(name);
  const rates = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < names.length; turn++) {
      const name = names[(round + turn) % names.length] as K;
      rates.get(name)?.push(runOnce(name));
    }
  }
  const result = {} as Record<K, Throughput>;
  for (const name of names) {
    const roundsOpsPerSec = rates.get(name) ?? [];
    result[name] = {
      opsPerSec: Math.max(...roundsOpsPerSec),
      medianOpsPerSec: median(roundsOpsPerSec),
      roundsOpsPerSec,
    };
  }
  return result;
}

/** The asynchronous variant, for APIs that only come as promises (viem's `recoverAddress`). */
export async function measureThroughputAsync(
  count: number,
  rounds: number,
  operation: (index: number) => Promise<unknown>,
): Promise<Throughput> {
  for (let i = 0; i < count; i++) await operation(i);
  const roundsOpsPerSec: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const startMs = performance.now();
    for (let i = 0; i < count; i++) await operation(i);
    roundsOpsPerSec.push(count / ((performance.now() - startMs) / 1000));
  }
  return {
    opsPerSec: Math.max(...roundsOpsPerSec),
    medianOpsPerSec: median(roundsOpsPerSec),
    roundsOpsPerSec,
  };
}
