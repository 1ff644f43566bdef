import { describe, expect, test } from 'vitest';
import type { ComplianceContext } from '../compliance.ts';
import {
  address,
  epochState,
  registration,
  TEN_POW_18_PLUS_1,
  task,
  UINT256_MAX,
} from '../harness.ts';

const UINT64_MAX = 2n ** 64n - 1n;
const UINT48_MAX = 2n ** 48n - 1n;
const UINT32_MAX = 2 ** 32 - 1;

export function describeExactNumbers(context: ComplianceContext): void {
  describe('exact numbers', () => {
    test('behavior: 2^256-1 and 10^18+1 round-trip exactly through every registry uint256 column', async () => {
      const { store } = await context.openRegistry();
      const operator = await store.operators.upsert(
        registration(1, { weightWei: UINT256_MAX, registeredAtTimestampSec: TEN_POW_18_PLUS_1 }),
      );
      expect(operator.weightWei).toBe(UINT256_MAX);
      expect((await store.operators.get(address(1)))?.registeredAtTimestampSec).toBe(
        TEN_POW_18_PLUS_1,
      );

      await store.applyEpochAdvance({
        epochState: epochState(1, {
          minimumWeightWei: TEN_POW_18_PLUS_1,
          totalWeightWei: UINT256_MAX,
          thresholdWeightWei: UINT256_MAX - 1n,
        }),
        operatorUpdates: [{ address: address(1), status: 'active' }],
        epochOperators: [
          { operator: address(1), weightWei: UINT256_MAX, signingKey: address(0x1001) },
        ],
      });
      expect(await store.epochStates.get(1)).toMatchObject({
        minimumWeightWei: TEN_POW_18_PLUS_1,
        totalWeightWei: UINT256_MAX,
        thresholdWeightWei: UINT256_MAX - 1n,
      });
      expect((await store.epochOperators.get(1, address(1)))?.weightWei).toBe(UINT256_MAX);

      await store.tasks.create(task(1, { key: UINT256_MAX, value: TEN_POW_18_PLUS_1 }));
      expect(await store.tasks.get(task(1).taskId)).toMatchObject({
        key: UINT256_MAX,
        value: TEN_POW_18_PLUS_1,
      });
    });

    test('behavior: uint64 block numbers, uint48 timestamps and uint32 epochs and chain ids keep their maximum', async () => {
      const { store } = await context.openRegistry();
      const stored = await store.tasks.create(
        task(2, {
          blockNumber: UINT64_MAX,
          timestampSec: UINT48_MAX,
          epoch: UINT32_MAX,
          chainId: UINT32_MAX,
        }),
      );
      expect(stored.task).toMatchObject({
        blockNumber: UINT64_MAX,
        timestampSec: UINT48_MAX,
        epoch: UINT32_MAX,
        chainId: UINT32_MAX,
      });
      await store.epochStates.put(epochState(UINT32_MAX, { startBlock: UINT64_MAX }));
      expect(await store.epochStates.getLatest()).toMatchObject({
        epoch: UINT32_MAX,
        startBlock: UINT64_MAX,
      });
      await store.cursors.set(UINT32_MAX, 'operatorEvents', {
        blockNumber: UINT64_MAX,
        blockHash: `0x${'ab'.repeat(32)}`,
      });
      expect(await store.cursors.get(UINT32_MAX, 'operatorEvents')).toEqual({
        blockNumber: UINT64_MAX,
        blockHash: `0x${'ab'.repeat(32)}`,
      });
    });

    test('behavior: weight sums are computed exactly in SQL, even past 2^256', async () => {
      const { store } = await context.openRegistry();
      const weights = [UINT256_MAX, TEN_POW_18_PLUS_1, 2n ** 200n + 7n, 1n];
      for (const [index] of weights.entries()) {
        await store.operators.upsert(registration(index + 1));
      }
      await store.applyEpochAdvance({
        epochState: epochState(1),
        operatorUpdates: [],
        epochOperators: weights.map((weightWei, index) => ({
          operator: address(index + 1),
          weightWei,
          signingKey: address(0x1001 + index),
        })),
      });
      const expectedTotal = weights.reduce((sum, weight) => sum + weight, 0n);
      expect(await store.epochOperators.sumWeights(1)).toEqual({
        operatorCount: 4,
        totalWeightWei: expectedTotal,
      });
      expect(
        await store.epochOperators.sumWeights(1, { operators: [address(2), address(3)] }),
      ).toEqual({
        operatorCount: 2,
        totalWeightWei: TEN_POW_18_PLUS_1 + 2n ** 200n + 7n,
      });
      expect(await store.epochOperators.sumWeights(2)).toEqual({
        operatorCount: 0,
        totalWeightWei: 0n,
      });
    });
  });
}
