import { describe, expect, test } from 'vitest';
import type { AggregationResult } from '../aggregation-worker.ts';
import type { CompressionResult } from '../compression-worker.ts';
import type { VerifyResult } from '../verify-worker.ts';
import { type BenchResults, evaluateTargets, formatSummary } from './report.ts';

const throughput = (opsPerSec: number) => ({
  opsPerSec,
  medianOpsPerSec: opsPerSec,
  roundsOpsPerSec: [opsPerSec],
});

function verification(ratio: number): VerifyResult {
  return {
    signatures: 10,
    rounds: 1,
    aggregatorVerify: throughput(ratio * 1000),
    nativeAdapterRecoverAddress: throughput(900),
    nativeRawRecover: throughput(1000),
    nobleRawRecover: throughput(30),
    nobleAdapterRecoverAddress: throughput(29),
    viemRecoverAddress: throughput(28),
    verifyToRawRatio: ratio,
  };
}

function row(network: 'sim' | 'libp2p', operators: number, p50Ms: number, peakRssMiB: number) {
  const latency = {
    count: 1,
    p50Ms,
    p95Ms: p50Ms,
    p99Ms: p50Ms,
    meanMs: p50Ms,
    minMs: p50Ms,
    maxMs: p50Ms,
  };
  const memory = { peakRssMiB, rssMiB: peakRssMiB, heapUsedMiB: 1 };
  return {
    network,
    operators,
    status: 'ok',
    wallLatency: latency,
    virtualLatency: { ...latency, p50Ms: 0 },
    floor: {
      signs: operators,
      recoveries: operators,
      chainReads: operators + 1,
      repetitions: 1,
      signMs: 1,
      recoverMs: 1,
      chainReadsMs: 98,
      totalMs: 100,
      chainReadMeanMs: 1,
    },
    ratioToFloor: { p50: p50Ms / 100, p95: p50Ms / 100 },
    memory: { afterBuild: memory, end: memory, anvil: { processes: 2, peakRssMiB: 50 } },
    wallMs: 1,
  } satisfies AggregationResult;
}

function compression(wallForFullRunMs: number, complete: boolean): CompressionResult {
  return {
    operators: 64,
    durationMs: 3_600_000,
    requestEveryMs: 10_000,
    complete,
    virtualReachedMs: complete ? 3_600_000 : 600_000,
    wallMs: complete ? wallForFullRunMs : 100_000,
    ratio: 3_600_000 / wallForFullRunMs,
    wallForFullRunMs,
    fullRunRatio: 3_600_000 / wallForFullRunMs,
    peakRssMiB: 1000,
  };
}

function results(parts: Partial<BenchResults>): Omit<BenchResults, 'targets'> {
  return {
    schema: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    wallMs: 1,
    machine: {
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 8,
      node: 'v24',
      platform: 'linux',
      arch: 'x64',
      loadAverageAtStart: [0, 0, 0],
    },
    git: { commit: 'abc', dirty: false },
    options: {},
    aggregation: [],
    ...parts,
  };
}

const verdicts = (input: Omit<BenchResults, 'targets'>) =>
  evaluateTargets(input).map((check) => check.met);

describe('evaluateTargets', () => {
  test('all four met', () => {
    const input = results({
      verification: verification(0.9),
      aggregation: [
        row('sim', 64, 140, 2000),
        row('sim', 128, 400, 3000),
        row('libp2p', 128, 500, 4000),
      ],
      compression: compression(25_000, true),
    });
    expect(verdicts(input)).toEqual([true, true, true, true]);
  });

  test('each target fails on its own threshold', () => {
    const input = results({
      verification: verification(0.79),
      aggregation: [
        row('sim', 64, 151, 2000),
        row('sim', 128, 400, 3000),
        row('libp2p', 128, 500, 4097),
      ],
      compression: compression(31_000, true),
    });
    expect(verdicts(input)).toEqual([false, false, false, false]);
    const checks = evaluateTargets(input);
    expect(checks[1]?.measured).toContain('1.5×');
    expect(checks[3]?.measured).toBe('sim 2.93 GiB, libp2p 4.00 GiB');
  });

  test('not measured when skipped, failed or absent; a projection is labelled', () => {
    const input = results({
      verification: { error: 'boom' },
      aggregation: [
        { network: 'sim', operators: 64, error: 'timed out' },
        { network: 'libp2p', operators: 128, status: 'skipped', skippedReason: 'no', wallMs: 0 },
      ],
      compression: compression(500_000, false),
    });
    expect(verdicts(input)).toEqual([null, null, false, null]);
    // A projection without a finite figure (no progress measured) is no verdict at all.
    const broken = { ...compression(500_000, false), wallForFullRunMs: Number.NaN };
    expect(verdicts(results({ compression: broken }))[2]).toBeNull();
    expect(evaluateTargets(input)[2]?.measured).toContain('projected from 10.0 virtual min');
  });
});

describe('formatSummary', () => {
  test('lists every row, skipped and failed ones with their reason, and each target', () => {
    const input = results({
      verification: verification(0.9),
      aggregation: [
        row('sim', 4, 60, 1000),
        {
          network: 'libp2p',
          operators: 4,
          status: 'skipped',
          skippedReason: 'simulator has no libp2p mode',
          wallMs: 0,
        },
        { network: 'libp2p', operators: 16, error: 'timed out after 300 s' },
      ],
    });
    const text = formatSummary({ ...input, targets: evaluateTargets(input) });
    expect(text).toContain('skipped: simulator has no libp2p mode');
    expect(text).toContain('error: timed out after 300 s');
    expect(text).toMatch(/met\s+verification ≥ 0\.8× native recover: 0\.90×/);
    expect(text).toContain('NOT MEASURED N=64 on sim');
  });
});
