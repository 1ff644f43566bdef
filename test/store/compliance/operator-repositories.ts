import { describe, expect, test } from 'vitest';
import { StoreConflictError } from '../../../src/store/errors.ts';
import type { ComplianceContext } from '../compliance.ts';
import { address, bytes32, epochState, START_MS, signature, task } from '../harness.ts';

export function describeOperatorRepositories(context: ComplianceContext): void {
  describe('operator repositories', () => {
    test('behavior: the local operator is one row that only its own address can update', async () => {
      const { store, clock } = await context.openOperator();
      expect(await store.localOperator.get()).toBeUndefined();
      const operator = {
        address: address(1),
        signingKey: address(11),
        activeEpoch: 3,
        status: 'waitingActive' as const,
        weightWei: 5n,
      };
      await store.localOperator.put(operator);
      clock.advance(1000);
      const updated = await store.localOperator.put({
        ...operator,
        status: 'active',
        signingKey: address(12),
      });
      expect(updated).toEqual({
        ...operator,
        status: 'active',
        signingKey: address(12),
        lastUpdatedAtMs: START_MS + 1000,
      });

      const other = store.localOperator.put({ ...operator, address: address(2) });
      await expect(other).rejects.toBeInstanceOf(StoreConflictError);
      await expect(other).rejects.toMatchObject({ reason: 'LOCAL_OPERATOR_MISMATCH' });
    });

    test('behavior: the current epoch state only moves forward', async () => {
      const { store } = await context.openOperator();
      const state = (epoch: number) =>
        epochState(epoch, { minimumWeightWei: 1n, totalWeightWei: 10n, thresholdWeightWei: 7n });
      expect((await store.currentEpochState.put(state(4))).applied).toBe(true);
      expect((await store.currentEpochState.put(state(3))).applied).toBe(false);
      expect(
        (await store.currentEpochState.put({ ...state(4), totalWeightWei: 11n })).applied,
      ).toBe(true);
      expect((await store.currentEpochState.put(state(5))).applied).toBe(true);
      expect(await store.currentEpochState.get()).toMatchObject({
        epoch: 5,
        startBlock: 60n,
        totalWeightWei: 10n,
      });
    });

    test('behavior: tasks are idempotent on their id and end once', async () => {
      const { store } = await context.openOperator();
      expect((await store.tasks.create(task(1))).created).toBe(true);
      expect((await store.tasks.create(task(1))).created).toBe(false);
      expect((await store.tasks.setStatus(bytes32(1), 'completed')).changed).toBe(true);
      expect((await store.tasks.setStatus(bytes32(1), 'completed')).changed).toBe(false);
      await expect(store.tasks.setStatus(bytes32(1), 'pending')).rejects.toMatchObject({
        reason: 'TASK_FINAL',
      });
      expect(await store.tasks.listByStatus('completed', { limit: 5 })).toHaveLength(1);
    });

    test('behavior: an answer is stored once and re-sent after a restart', async () => {
      const { store, schema } = await context.openOperator();
      await store.tasks.create(task(1));
      const signed = {
        taskId: bytes32(1),
        submittedAtMs: START_MS,
        outcome: 'signed' as const,
        signature: signature(1),
      };
      expect((await store.taskResponses.record(signed)).recorded).toBe(true);

      const restarted = (await context.openOperator({ schema })).store;
      const again = await restarted.taskResponses.record({
        taskId: bytes32(1),
        submittedAtMs: START_MS + 10,
        outcome: 'refused',
        refusalReason: 'not active',
      });
      expect(again.recorded).toBe(false);
      expect(again.response).toMatchObject({
        outcome: 'signed',
        signature: signature(1),
        submittedAtMs: START_MS,
      });
      expect(await restarted.taskResponses.get(bytes32(1))).toEqual(again.response);
    });

    test('behavior: pruning old tasks removes their answers too', async () => {
      const { store, clock } = await context.openOperator();
      await store.tasks.create(task(1));
      await store.taskResponses.record({
        taskId: bytes32(1),
        submittedAtMs: START_MS,
        outcome: 'refused',
        refusalReason: 'unknown chain',
      });
      clock.advance(60_000);
      await store.tasks.create(task(2));
      expect(await store.tasks.deleteCreatedBefore(START_MS + 1)).toBe(1);
      expect(await store.tasks.get(bytes32(1))).toBeUndefined();
      expect(await store.taskResponses.get(bytes32(1))).toBeUndefined();
      expect(await store.tasks.get(bytes32(2))).toBeDefined();
    });

    test('behavior: the peer cache upserts, lists most recent first, removes and prunes', async () => {
      const { store } = await context.openOperator();
      await store.peerCache.upsert({
        peerId: 'peer-a',
        lastSeenAtMs: START_MS,
        status: 'connected',
      });
      await store.peerCache.upsert({
        peerId: 'peer-b',
        operatorAddress: address(2),
        addresses: ['/ip4/10.0.0.2/tcp/4001'],
        lastSeenAtMs: START_MS + 10,
        status: 'connected',
      });
      await store.peerCache.upsert({
        peerId: 'peer-c',
        lastSeenAtMs: START_MS + 5,
        status: 'banned',
      });
      await store.peerCache.upsert({
        peerId: 'peer-a',
        lastSeenAtMs: START_MS + 1,
        status: 'disconnected',
      });

      expect((await store.peerCache.list({ limit: 10 })).map((peer) => peer.peerId)).toEqual([
        'peer-b',
        'peer-c',
        'peer-a',
      ]);
      expect(await store.peerCache.get('peer-b')).toEqual({
        peerId: 'peer-b',
        operatorAddress: address(2),
        addresses: ['/ip4/10.0.0.2/tcp/4001'],
        lastSeenAtMs: START_MS + 10,
        status: 'connected',
      });
      expect(await store.peerCache.list({ status: 'banned', limit: 10 })).toHaveLength(1);
      expect(await store.peerCache.remove('peer-c')).toBe(true);
      expect(await store.peerCache.remove('peer-c')).toBe(false);
      expect(await store.peerCache.pruneLastSeenBefore(START_MS + 5)).toBe(1);
      expect((await store.peerCache.list({ limit: 10 })).map((peer) => peer.peerId)).toEqual([
        'peer-b',
      ]);
    });

    test('behavior: an operator transaction commits all or nothing', async () => {
      const { store } = await context.openOperator();
      await expect(
        store.transaction(async (tx) => {
          await tx.tasks.create(task(1));
          await tx.taskResponses.record({
            taskId: bytes32(1),
            submittedAtMs: START_MS,
            outcome: 'signed',
            signature: signature(1),
          });
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect(await store.tasks.get(bytes32(1))).toBeUndefined();
    });
  });
}
