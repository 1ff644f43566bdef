import { describe, expect, test } from 'vitest';
import { areaOf, type CpuProfile, summarizeCpuProfile } from './cpu-profile.ts';

const frame = (functionName: string, url: string, lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});

describe('areaOf', () => {
  test('names our folders, npm packages (scoped too), Node internals and V8 pseudo-frames', () => {
    expect(areaOf('file:///w/main/src/aggregator/aggregator.ts', 'f')).toBe('src/aggregator');
    expect(areaOf('file:///w/main/src/adapters/network-sim/sim-network.ts', 'f')).toBe(
      'src/adapters/network-sim',
    );
    expect(areaOf('file:///w/main/sim/harness/io-gate.ts', 'f')).toBe('sim/harness');
    expect(
      areaOf('file:///w/node_modules/.pnpm/kysely@0.29/node_modules/kysely/dist/x.js', 'f'),
    ).toBe('kysely');
    expect(areaOf('file:///w/node_modules/@electric-sql/pglite/dist/a.js', 'f')).toBe(
      '@electric-sql/pglite',
    );
    expect(areaOf('node:internal/streams/writable', 'f')).toBe('node internals');
    expect(areaOf('', '(idle)')).toBe('(idle)');
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(areaOf('', 'writev')).toBe('(native)');
  });
});

describe('summarizeCpuProfile', () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 5] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('decode', 'file:///r/src/wire/task.ts', 9), children: [4] },
      { id: 4, callFrame: frame('parse', 'file:///r/node_modules/viem/x.js', 0) },
      // The same function reached by another path: merged with id 3.
      { id: 5, callFrame: frame('decode', 'file:///r/src/wire/task.ts', 9) },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [2, 3, 4, 4, 5, 2],
    timeDeltas: [1000, 2000, 500, 500, 1000, 5000],
  };

  test('adds each sample’s preceding time delta to the function it landed in', () => {
    const summary = summarizeCpuProfile(profile);
    expect(summary.totalMs).toBe(10);
    expect(summary.idleMs).toBe(6);
    expect(summary.top.map((e) => [e.name, e.selfMs])).toEqual([
      ['(idle)', 6],
      ['decode src/wire/task.ts:10', 3],
      ['parse viem/x.js:1', 1],
    ]);
    expect(summary.top[1]?.percent).toBeCloseTo(30);
    expect(summary.byArea.map((a) => a.area)).toEqual(['(idle)', 'src/wire', 'viem']);
  });

  test('falls back to hit counts spread over the profile’s duration', () => {
    const summary = summarizeCpuProfile({
      nodes: [
        { id: 1, callFrame: frame('a', 'file:///r/src/core/x.ts'), hitCount: 3 },
        { id: 2, callFrame: frame('b', 'file:///r/src/core/y.ts'), hitCount: 1 },
      ],
      startTime: 0,
      endTime: 4000,
    });
    expect(summary.top.map((e) => [e.name, e.selfMs])).toEqual([
      ['a src/core/x.ts:1', 3],
      ['b src/core/y.ts:1', 1],
    ]);
  });

  test('leaves out the samples before fromMs', () => {
    // Sample times: 1, 3, 3.5, 4, 5, 10 ms; from 3.5 ms on: 4, 4, 5, 2 → 0.5 + 0.5 + 1 + 5 ms.
    const summary = summarizeCpuProfile(profile, 30, { fromMs: 3.5 });
    expect(summary.totalMs).toBe(7);
    expect(summary.top.map((e) => [e.name, e.selfMs])).toEqual([
      ['(idle)', 5],
      ['parse viem/x.js:1', 1],
      ['decode src/wire/task.ts:10', 1],
    ]);
  });

  test('keeps only the requested number of functions', () => {
    expect(summarizeCpuProfile(profile, 1).top).toHaveLength(1);
  });
});
