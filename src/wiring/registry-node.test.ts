import { describe, expect, test } from 'vitest';
import { aggregatorWorkerId } from './registry-node.ts';

describe('aggregatorWorkerId', () => {
  const config = (workerId?: string) => ({
    node: { name: 'registry-eu-1' },
    aggregator: {
      ...(workerId === undefined ? {} : { workerId }),
      responseDeadlineMs: 3_000,
      maxRetries: 3,
      expiryMs: 15_000,
      maxLiveTasks: 1_000,
      reconnectWindowMs: 40_000,
    },
  });

  test('behavior: the configured worker id wins', () => {
    expect(aggregatorWorkerId(config('registry-a'), '16Uiu2HAm…')).toBe('registry-a');
  });

  test('behavior: else the stable peer id of an identity keystore, else the node name', () => {
    expect(aggregatorWorkerId(config(), '16Uiu2HAmPeer')).toBe('aggregator:16Uiu2HAmPeer');
    expect(aggregatorWorkerId(config(), undefined)).toBe('aggregator:registry-eu-1');
  });
});
