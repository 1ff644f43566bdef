import { describe, expect, test } from 'vitest';
import { ForeignKeyViolationError, StoreConflictError } from '../../../src/store/errors.ts';
import type { EpochAdvance } from '../../../src/store/registry/apply-epoch-advance.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import type { ComplianceContext } from '../compliance.ts';
import { address, epochState, registration, TEN_POW_18_PLUS_1, UINT256_MAX } from '../harness.ts';

/** Everything an epoch advance touches, for before/after comparisons. */
async function readRegistryState(store: RegistryStore) {
  const epochs = await store.epochStates.list({ limit: 100 });
  return {
    operators: await store.operators.list(),
    epochs,
    snapshots: await Promise.all(epochs.map((state) => store.epochOperators.list(state.epoch))),
  };
}

/** Three operators waiting for epoch 1, then epoch 1 applied: all active. */
async function setUpEpochOne(store: RegistryStore): Promise<EpochAdvance> {
  for (const n of [1, 2, 3]) {
    await store.operators.upsert(registration(n, { status: 'waitingActive' }));
  }
  const weightOf = (n: number) => (n === 1 ? UINT256_MAX - 2n : 1n);
  const advance: EpochAdvance = {
    epochState: epochState(1, {
      minimumWeightWei: 1n,
      totalWeightWei: UINT256_MAX,
      thresholdWeightWei: 2n ** 255n,
    }),
    operatorUpdates: [1, 2, 3].map((n) => ({
      address: address(n),
      status: 'active',
      expectedStatus: 'waitingActive',
      weightWei: weightOf(n),
    })),
    epochOperators: [1, 2, 3].map((n) => ({
      operator: address(n),
      weightWei: weightOf(n),
      signingKey: address(0x1000 + n),
    })),
  };
  expect((await store.applyEpochAdvance(advance)).applied).toBe(true);
  return advance;
}

export function describeEpochAdvance(context: ComplianceContext): void {
  describe('applyEpochAdvance', () => {
    test('behavior: writes statuses, weights, the snapshot and the epoch row together', async () => {
      const { store } = await context.openRegistry();
      await setUpEpochOne(store);
      expect(await store.operators.listByStatus('active')).toHaveLength(3);
      expect((await store.operators.get(address(1)))?.weightWei).toBe(UINT256_MAX - 2n);
      expect(await store.epochOperators.sumWeights(1)).toEqual({
        operatorCount: 3,
        totalWeightWei: UINT256_MAX,
      });
      expect((await store.epochStates.getLatest())?.epoch).toBe(1);
    });

    test('behavior: applying the same epoch twice equals applying it once', async () => {
      const { store, clock } = await context.openRegistry();
      const advance = await setUpEpochOne(store);
      const once = await readRegistryState(store);
      clock.advance(60_000);

      const second = await store.applyEpochAdvance(advance);
      expect(second.applied).toBe(false);
      expect(second.state).toEqual(once.epochs[0]);
      expect(await readRegistryState(store)).toEqual(once);
    });

    test('behavior: a constraint failure midway leaves the previous epoch untouched', async () => {
      const { store, clock } = await context.openRegistry();
      await setUpEpochOne(store);
      const before = await readRegistryState(store);
      clock.advance(60_000);

      const failing = store.applyEpochAdvance({
        epochState: epochState(2, { totalWeightWei: 5n, thresholdWeightWei: 4n }),
        operatorUpdates: [
          { address: address(1), status: 'unactive' },
          { address: address(2), weightWei: TEN_POW_18_PLUS_1, signingKey: address(0x2002) },
        ],
        // The last row names an operator that was never registered: its foreign key fails after
        // the epoch row and the operator updates were already written in this transaction.
        epochOperators: [
          { operator: address(2), weightWei: TEN_POW_18_PLUS_1, signingKey: address(0x2002) },
          { operator: address(99), weightWei: 1n, signingKey: address(0x2099) },
        ],
      });
      await expect(failing).rejects.toBeInstanceOf(ForeignKeyViolationError);
      await expect(failing).rejects.toMatchObject({
        code: 'FOREIGN_KEY_VIOLATION',
        operation: 'applyEpochAdvance',
        table: 'epoch_operators',
      });

      expect(await readRegistryState(store)).toEqual(before);
      expect(await store.epochStates.get(2)).toBeUndefined();
      expect((await store.epochStates.getLatest())?.epoch).toBe(1);

      const retried = await store.applyEpochAdvance({
        epochState: epochState(2, { totalWeightWei: 5n, thresholdWeightWei: 4n }),
        operatorUpdates: [{ address: address(1), status: 'unactive' }],
        epochOperators: [{ operator: address(2), weightWei: 1n, signingKey: address(0x1002) }],
      });
      expect(retried.applied).toBe(true);
      expect((await store.operators.get(address(1)))?.status).toBe('unactive');
    });

    test('behavior: an operator whose status changed meanwhile aborts the whole advance', async () => {
      const { store } = await context.openRegistry();
      await setUpEpochOne(store);
      await store.operators.upsert(registration(4, { status: 'waitingJoin', activeEpoch: 2 }));
      const before = await readRegistryState(store);

      const stale = store.applyEpochAdvance({
        epochState: epochState(2),
        operatorUpdates: [
          { address: address(1), weightWei: 2n },
          { address: address(4), status: 'active', expectedStatus: 'waitingActive' },
        ],
        epochOperators: [{ operator: address(1), weightWei: 2n, signingKey: address(0x1001) }],
      });
      await expect(stale).rejects.toBeInstanceOf(StoreConflictError);
      await expect(stale).rejects.toMatchObject({ reason: 'STATUS_PRECONDITION' });
      expect(await readRegistryState(store)).toEqual(before);
    });

    test('behavior: an epoch older than the latest stored one is refused', async () => {
      const { store } = await context.openRegistry();
      await setUpEpochOne(store);
      const empty = { operatorUpdates: [], epochOperators: [] };
      expect((await store.applyEpochAdvance({ epochState: epochState(5), ...empty })).applied).toBe(
        true,
      );
      await expect(
        store.applyEpochAdvance({ epochState: epochState(4), ...empty }),
      ).rejects.toMatchObject({ code: 'CONFLICT', reason: 'EPOCH_ORDER' });
      expect((await store.applyEpochAdvance({ epochState: epochState(1), ...empty })).applied).toBe(
        false,
      );
    });

    test('behavior: two registries racing on one epoch apply it once', async () => {
      const first = await context.openRegistry();
      await setUpEpochOne(first.store);
      const second = await context.openRegistry({ schema: first.schema });
      const advance: EpochAdvance = {
        epochState: epochState(2),
        operatorUpdates: [{ address: address(3), status: 'unactive', expectedStatus: 'active' }],
        epochOperators: [{ operator: address(1), weightWei: 2n, signingKey: address(0x1001) }],
      };
      const results = await Promise.all([
        first.store.applyEpochAdvance(advance),
        second.store.applyEpochAdvance(advance),
      ]);
      expect(results.map((result) => result.applied).sort()).toEqual([false, true]);
      expect(await first.store.epochOperators.list(2)).toHaveLength(1);
    });

    test('behavior: suspending records the previous status, which lifting the suspension clears', async () => {
      const { store } = await context.openRegistry();
      await setUpEpochOne(store);
      const suspended = await store.operators.updateStatus(address(2), 'suspended');
      expect(suspended).toMatchObject({ status: 'suspended', statusBeforeSuspension: 'active' });
      // An epoch advance leaves a suspended operator suspended (the core keeps its status).
      await store.applyEpochAdvance({
        epochState: epochState(2),
        operatorUpdates: [{ address: address(2), weightWei: 9n }],
        epochOperators: [],
      });
      expect(await store.operators.get(address(2))).toMatchObject({
        status: 'suspended',
        statusBeforeSuspension: 'active',
        weightWei: 9n,
      });
      const lifted = await store.operators.update(address(2), { status: 'active', missing: 0 });
      expect(lifted).toMatchObject({ status: 'active', statusBeforeSuspension: null, missing: 0 });
    });
  });
}
