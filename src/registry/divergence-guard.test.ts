import { describe, expect, it } from 'vitest';
import type { Aggregator } from '../aggregator/aggregator.ts';
import { ProofRequestError } from '../aggregator/errors.ts';
import { refuseWhileDiverged } from './divergence-guard.ts';

const TASK_ID = `0x${'ab'.repeat(32)}` as const;

/** An aggregator that accepts every request and counts them. */
function countingAggregator() {
  const seen: unknown[] = [];
  const aggregator = {
    workerId: 'aggregator:test',
    liveTaskCount: () => 7,
    requestProof: async (query: unknown) => {
      seen.push(query);
      return { taskId: TASK_ID, status: 'pending' as const, created: true };
    },
  } as unknown as Aggregator;
  return { aggregator, seen };
}

describe('refuseWhileDiverged', () => {
  it('refuses new requests with NOT_READY while diverged, and passes them on otherwise', async () => {
    const { aggregator, seen } = countingAggregator();
    let diverged = true;
    const guarded = refuseWhileDiverged(aggregator, { diverged: () => diverged });
    const query = { chainId: 10, targetAddress: TASK_ID.slice(0, 42) as `0x${string}`, key: 1n };
    const refusal = await guarded.requestProof(query).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ProofRequestError);
    expect((refusal as ProofRequestError).code).toBe('NOT_READY');
    expect(seen).toEqual([]);
    diverged = false;
    await expect(guarded.requestProof(query)).resolves.toMatchObject({ taskId: TASK_ID });
    expect(seen).toEqual([query]);
  });

  it('keeps everything else of the aggregator', () => {
    const { aggregator } = countingAggregator();
    const guarded = refuseWhileDiverged(aggregator, { diverged: () => true });
    expect(guarded.workerId).toBe('aggregator:test');
    expect(guarded.liveTaskCount()).toBe(7);
  });
});
