import { describe, expect, test } from 'vitest';
import {
  ForeignKeyViolationError,
  StoreConflictError,
  StoreNotFoundError,
} from '../../../src/store/errors.ts';
import {
  address,
  bytes32,
  epochState,
  localOperator,
  START_MS,
  signature,
  signedAnswer,
  TEN_POW_18_PLUS_1,
  task,
  UINT256_MAX,
} from '../harness.ts';
import type { OperatorComplianceContext } from '../operator-compliance.ts';

export function describeOperatorRepositories(context: OperatorComplianceContext): void {
  describe('operator repositories', () => {
    test('behavior: the local operator is one row that only its own address can update', async () => {
      const { store, clock } = await context.openOperator();
      expect(await store.localOperator.get()).toBeUndefined();
      const operator = localOperator(1, {
        activeEpoch: 3,
        status: 'waitingActive',
        weightWei: 5n,
      });
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
      expect((await store.taskResponses.record(signedAnswer(1))).recorded).toBe(true);

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
          await tx.taskResponses.record(signedAnswer(1));
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect(await store.tasks.get(bytes32(1))).toBeUndefined();
    });

    test('behavior: a transaction commits everything it wrote, and what it returns', async () => {
      const { store } = await context.openOperator();
      const result = await store.transaction(async (tx) => {
        await tx.tasks.create(task(1));
        await tx.taskResponses.record(signedAnswer(1));
        return 'done';
      });
      expect(result).toBe('done');
      expect(await store.tasks.get(bytes32(1))).toBeDefined();
      expect((await store.taskResponses.get(bytes32(1)))?.outcome).toBe('signed');
    });

    test('behavior: a rolled-back transaction restores updated and deleted rows too', async () => {
      const { store } = await context.openOperator();
      const operator = localOperator(1);
      await store.localOperator.put(operator);
      await store.tasks.create(task(1));
      await store.peerCache.upsert({
        peerId: 'peer-a',
        lastSeenAtMs: START_MS,
        status: 'connected',
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.localOperator.put({ ...operator, status: 'suspended', weightWei: 9n });
          await tx.tasks.setStatus(bytes32(1), 'completed');
          await tx.peerCache.remove('peer-a');
          await tx.currentEpochState.put(epochState(3));
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect(await store.localOperator.get()).toMatchObject({ status: 'active', weightWei: 1n });
      expect((await store.tasks.get(bytes32(1)))?.status).toBe('pending');
      expect(await store.peerCache.get('peer-a')).toBeDefined();
      expect(await store.currentEpochState.get()).toBeUndefined();
    });

    test('behavior: a call outside an open transaction never sees its uncommitted writes', async () => {
      const { store } = await context.openOperator();
      let outside: Promise<unknown> | undefined;
      await expect(
        store.transaction(async (tx) => {
          await tx.tasks.create(task(1));
          outside = store.tasks.get(bytes32(1));
          // Give the outside call every chance to run before the rollback.
          for (let turn = 0; turn < 10; turn += 1) await Promise.resolve();
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await outside).toBeUndefined();
    });

    test('behavior: a response to a task that is not stored is refused by a foreign key', async () => {
      const { store } = await context.openOperator();
      const recording = store.taskResponses.record(signedAnswer(1, { taskId: bytes32(404) }));
      await expect(recording).rejects.toBeInstanceOf(ForeignKeyViolationError);
      await expect(recording).rejects.toMatchObject({
        operation: 'taskResponses.record',
        constraint: 'task_responses_task_id_fkey',
      });
      expect(await store.taskResponses.get(bytes32(404))).toBeUndefined();
    });

    test('behavior: a task that differs from the stored one under the same id is refused; a new deadline is not a difference', async () => {
      const { store } = await context.openOperator();
      await store.tasks.create(task(1));
      const again = await store.tasks.create(task(1, { expiresAtMs: START_MS + 99_000 }));
      expect(again).toMatchObject({ created: false, task: { expiresAtMs: START_MS + 15_000 } });
      const different = store.tasks.create(task(1, { value: 7n, epoch: 2 }));
      await expect(different).rejects.toBeInstanceOf(StoreConflictError);
      await expect(different).rejects.toMatchObject({ reason: 'TASK_MISMATCH' });
      await expect(different).rejects.toThrow('epoch, value');
      await expect(store.tasks.setStatus(bytes32(2), 'failed')).rejects.toBeInstanceOf(
        StoreNotFoundError,
      );
    });

    test('behavior: task lists come in their documented order, ties broken by task id, up to the limit', async () => {
      const { store, clock } = await context.openOperator();
      await store.tasks.create(task(3, { expiresAtMs: START_MS + 20_000 }));
      await store.tasks.create(task(2, { expiresAtMs: START_MS + 5_000 }));
      clock.advance(1000);
      await store.tasks.create(task(1, { expiresAtMs: START_MS + 5_000 }));
      await store.tasks.create(task(4, { expiresAtMs: START_MS + 1_000 }));
      await store.tasks.setStatus(bytes32(4), 'failed');
      const ids = (records: { taskId: string }[]) => records.map((record) => record.taskId);

      expect(ids(await store.tasks.listByStatus('pending', { limit: 10 }))).toEqual(
        [2, 3, 1].map(bytes32),
      );
      expect(ids(await store.tasks.listByStatus('pending', { limit: 2 }))).toEqual(
        [2, 3].map(bytes32),
      );
      expect(ids(await store.tasks.listByStatus('failed', { limit: 10 }))).toEqual([bytes32(4)]);
      expect(ids(await store.tasks.listExpired({ nowMs: START_MS + 5_000, limit: 10 }))).toEqual(
        [1, 2].map(bytes32),
      );
      expect(ids(await store.tasks.listExpired({ nowMs: START_MS + 4_999, limit: 10 }))).toEqual(
        [],
      );
      const [updated] = await store.tasks.listByStatus('failed', { limit: 1 });
      expect(updated).toMatchObject({ createdAtMs: START_MS + 1000, updatedAtMs: START_MS + 1000 });
    });

    test('behavior: reopening a store over the same data finds everything it held', async () => {
      const { store, schema } = await context.openOperator();
      await store.localOperator.put(localOperator(1, { activeEpoch: 2, weightWei: 3n }));
      await store.currentEpochState.put(epochState(2));
      await store.tasks.create(task(1));
      await store.peerCache.upsert({ peerId: 'peer-a', lastSeenAtMs: START_MS, status: 'banned' });
      await store.close();
      const reopened = (await context.openOperator({ schema })).store;
      expect((await reopened.localOperator.get())?.weightWei).toBe(3n);
      expect((await reopened.currentEpochState.get())?.epoch).toBe(2);
      expect(await reopened.tasks.get(bytes32(1))).toBeDefined();
      expect((await reopened.peerCache.get('peer-a'))?.status).toBe('banned');
    });

    test('behavior: 2^256-1 and 10^18+1 round-trip exactly through every operator uint256 column', async () => {
      const { store } = await context.openOperator();
      await store.localOperator.put(
        localOperator(1, { signingKey: address(2), weightWei: TEN_POW_18_PLUS_1 }),
      );
      expect((await store.localOperator.get())?.weightWei).toBe(TEN_POW_18_PLUS_1);
      await store.currentEpochState.put(
        epochState(1, {
          minimumWeightWei: TEN_POW_18_PLUS_1,
          totalWeightWei: UINT256_MAX,
          thresholdWeightWei: UINT256_MAX - 1n,
        }),
      );
      expect(await store.currentEpochState.get()).toMatchObject({
        minimumWeightWei: TEN_POW_18_PLUS_1,
        totalWeightWei: UINT256_MAX,
      });
      await store.tasks.create(task(1, { key: TEN_POW_18_PLUS_1, value: UINT256_MAX }));
      expect(await store.tasks.get(task(1).taskId)).toMatchObject({
        key: TEN_POW_18_PLUS_1,
        value: UINT256_MAX,
      });
    });

    test('behavior: two operator stores in one database keep their own operator', async () => {
      const a = (await context.openOperator()).store;
      const b = (await context.openOperator()).store;
      await a.localOperator.put(localOperator(1));
      await b.localOperator.put(
        localOperator(2, { activeEpoch: 2, status: 'waitingActive', weightWei: 2n }),
      );
      expect((await a.localOperator.get())?.address).toBe(address(1));
      expect((await b.localOperator.get())?.address).toBe(address(2));
      await a.peerCache.upsert({ peerId: 'peer-a', lastSeenAtMs: 1, status: 'connected' });
      expect(await b.peerCache.list({ limit: 10 })).toEqual([]);
    });
  });
}
