import { describe, expect, test } from 'vitest';
import { compareThroughput, median, summarizeLatencies } from './measure.ts';

describe('summarizeLatencies', () => {
  test('nearest-rank percentiles, mean, min and max', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
    expect(summarizeLatencies(values)).toEqual({
      count: 100,
      p50Ms: 50,
      p95Ms: 95,
      p99Ms: 99,
      meanMs: 50.5,
      minMs: 1,
      maxMs: 100,
    });
  });

  test('undefined for no samples', () => {
    expect(summarizeLatencies([])).toBeUndefined();
  });
});

describe('median', () => {
  test('refuses an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('compareThroughput', () => {
  test('runs every candidate on every input in each round, plus one warm-up round', () => {
    const calls: Record<string, number[]> = { a: [], b: [] };
    const result = compareThroughput(5, 3, {
      a: (i) => calls['a']?.push(i),
      b: (i) => calls['b']?.push(i),
    });
    expect(calls['a']).toHaveLength(5 * 4);
    expect(calls['b']).toHaveLength(5 * 4);
    expect(calls['a']?.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(result.a.roundsOpsPerSec).toHaveLength(3);
    expect(result.a.opsPerSec).toBe(Math.max(...result.a.roundsOpsPerSec));
    expect(result.a.medianOpsPerSec).toBeLessThanOrEqual(result.a.opsPerSec);
  });
});
