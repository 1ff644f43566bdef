import { describe, expect, test } from 'vitest';
import { StoreConflictError, StoreNotFoundError } from '../../../src/store/errors.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import type { ComplianceContext } from '../compliance.ts';
import {
  address,
  bytes32,
  epochState,
  registration,
  START_MS,
  signature,
  task,
} from '../harness.ts';

/** Operators 1–3 active in epoch 1 with weight 1 each, threshold 2; task 1 in epoch 1. */
async function setUpTaskRound(store: RegistryStore): Promise<void> {
  for (const n of [1, 2, 3])
    await store.operators.upsert(registration(n, { status: 'active', weightWei: 1n }));
  await store.applyEpochAdvance({
    epochState: epochState(1, { minimumWeightWei: 1n, totalWeightWei: 3n, thresholdWeightWei: 2n }),
    operatorUpdates: [],
    epochOperators: [1, 2, 3].map((n) => ({
      operator: address(n),
      weightWei: 1n,
      signingKey: address(0x1000 + n),
    })),
  });
  await store.tasks.create(task(1));
  for (const n of [1, 2]) {
    await store.operatorResponses.record({
      taskId: bytes32(1),
      operatorAddress: address(n),
      epoch: 1,
      submittedAtMs: START_MS + n,
      outcome: 'signed',
      signature: signature(n),
    });
  }
  await store.operatorResponses.record({
    taskId: bytes32(1),
    operatorAddress: address(3),
    epoch: 1,
    submittedAtMs: START_MS + 3,
    outcome: 'refused',
    refusalReason: 'value mismatch',
  });
}

export function describeRegistryRepositories(context: ComplianceContext): void {
  describe('registry repositories', () => {
    describe('operators', () => {
      test('behavior: addresses are accepted in any valid case and returned checksummed', async () => {
        const { store } = await context.openRegistry();
        const lower = address(0xabc).toLowerCase() as `0x${string}`;
        const stored = await store.operators.upsert(registration(0xabc, { address: lower }));
        expect(stored.address).toBe(address(0xabc));
        expect(stored.address).not.toBe(lower);
        expect((await store.operators.get(lower))?.address).toBe(address(0xabc));
      });

      test('behavior: list is ascending by address as a number', async () => {
        const { store } = await context.openRegistry();
        for (const n of [0x100, 0x2, 0xff]) await store.operators.upsert(registration(n));
        expect((await store.operators.list()).map((operator) => operator.address)).toEqual([
          address(0x2),
          address(0xff),
          address(0x100),
        ]);
      });

      test('behavior: re-registration overwrites registration fields and keeps counters', async () => {
        const { store, clock } = await context.openRegistry();
        await store.operators.upsert(registration(1, { weightWei: 5n }));
        await store.operators.recordMiss(address(1), { suspendAtMisses: 5, taskId: bytes32(1) });
        await store.operators.recordSuccessfulResponses([address(1)]);
        clock.advance(1000);
        const again = await store.operators.upsert(
          registration(1, { signingKey: address(0x9999), activeEpoch: 7, status: 'waitingJoin' }),
        );
        expect(again).toMatchObject({
          signingKey: address(0x9999),
          activeEpoch: 7,
          weightWei: 5n,
          missing: 1,
          successfulResponseCount: 1,
          createdAtMs: START_MS,
          updatedAtMs: START_MS + 1000,
        });
      });

      test('behavior: an expected status guards concurrent transitions', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1));
        const joined = await store.operators.updateStatus(address(1), 'waitingActive', {
          expectedStatus: 'waitingJoin',
        });
        expect(joined.status).toBe('waitingActive');
        await expect(
          store.operators.updateStatus(address(1), 'waitingActive', {
            expectedStatus: 'waitingJoin',
          }),
        ).rejects.toMatchObject({ code: 'CONFLICT', reason: 'STATUS_PRECONDITION' });
        await expect(store.operators.updateStatus(address(2), 'active')).rejects.toBeInstanceOf(
          StoreNotFoundError,
        );
      });

      test('behavior: update changes only the given fields; null clears', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1, { exitEpoch: 9 }));
        const updated = await store.operators.update(address(1), {
          exitEpoch: null,
          peerId: '12D3KooWpeer',
        });
        expect(updated).toMatchObject({
          exitEpoch: null,
          peerId: '12D3KooWpeer',
          status: 'waitingJoin',
        });
      });

      test('behavior: the fifth miss suspends the operator, once', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1, { status: 'active' }));
        const results = [];
        for (let miss = 0; miss < 6; miss++) {
          results.push(
            await store.operators.recordMiss(address(1), {
              suspendAtMisses: 5,
              taskId: bytes32(miss + 1),
            }),
          );
        }
        expect(results.map((result) => result.suspendedNow)).toEqual([
          false,
          false,
          false,
          false,
          true,
          false,
        ]);
        expect(results.map((result) => result.operator.status)).toEqual([
          'active',
          'active',
          'active',
          'active',
          'suspended',
          'suspended',
        ]);
        expect(results.at(-1)?.operator.missing).toBe(6);
      });

      test('behavior: success counters move for all addresses or for none', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1));
        await expect(
          store.operators.recordSuccessfulResponses([address(1), address(2)]),
        ).rejects.toBeInstanceOf(StoreNotFoundError);
        expect((await store.operators.get(address(1)))?.successfulResponseCount).toBe(0);
      });

      test('behavior: status counts, status lists and signing-key lookups', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1, { status: 'active' }));
        await store.operators.upsert(registration(2, { status: 'active' }));
        await store.operators.upsert(registration(3, { status: 'suspended' }));
        expect(await store.operators.countByStatus()).toEqual({
          waitingJoin: 0,
          waitingActive: 0,
          active: 2,
          unactive: 0,
          suspended: 1,
        });
        expect(await store.operators.listByStatus(['suspended', 'active'])).toHaveLength(3);
        expect((await store.operators.getBySigningKey(address(0x1003)))?.address).toBe(address(3));
        expect(await store.operators.getBySigningKey(address(0x7777))).toBeUndefined();
      });
    });

    describe('tasks', () => {
      test('behavior: create is idempotent on the task id', async () => {
        const { store, clock } = await context.openRegistry();
        const first = await store.tasks.create(task(1));
        clock.advance(500);
        const again = await store.tasks.create(task(1, { expiresAtMs: START_MS + 99_000 }));
        expect(first.created).toBe(true);
        expect(again).toEqual({ created: false, task: first.task });
      });

      test('behavior: the same task id with other fields is a conflict', async () => {
        const { store } = await context.openRegistry();
        await store.tasks.create(task(1));
        await expect(store.tasks.create(task(1, { value: 2n }))).rejects.toThrow(
          /already stored with a different value/,
        );
      });

      test('behavior: a task ends once; the same final status again is a no-op', async () => {
        const { store } = await context.openRegistry();
        await store.tasks.create(task(1));
        expect((await store.tasks.setStatus(bytes32(1), 'expired')).changed).toBe(true);
        expect((await store.tasks.setStatus(bytes32(1), 'expired')).changed).toBe(false);
        await expect(store.tasks.setStatus(bytes32(1), 'failed')).rejects.toMatchObject({
          reason: 'TASK_FINAL',
        });
        await expect(store.tasks.recordRetry(bytes32(1))).rejects.toMatchObject({
          reason: 'TASK_FINAL',
        });
        await expect(store.tasks.setStatus(bytes32(2), 'failed')).rejects.toBeInstanceOf(
          StoreNotFoundError,
        );
      });

      test('behavior: retries count up while pending; expired lists only overdue pending tasks', async () => {
        const { store } = await context.openRegistry();
        await store.tasks.create(task(1, { expiresAtMs: START_MS + 3000 }));
        await store.tasks.create(task(2, { expiresAtMs: START_MS + 1000 }));
        await store.tasks.create(task(3, { expiresAtMs: START_MS + 9000 }));
        await store.tasks.create(task(4, { expiresAtMs: START_MS }));
        await store.tasks.setStatus(bytes32(4), 'failed');
        expect((await store.tasks.recordRetry(bytes32(1))).retries).toBe(1);
        const expired = await store.tasks.listExpired({ nowMs: START_MS + 3000, limit: 10 });
        expect(expired.map((record) => record.taskId)).toEqual([bytes32(2), bytes32(1)]);
        expect(await store.tasks.listByStatus('failed', { limit: 10 })).toHaveLength(1);
      });
    });

    describe('responses and completion', () => {
      test("behavior: an operator's first response is kept; a second one is not stored", async () => {
        const { store } = await context.openRegistry();
        await setUpTaskRound(store);
        const second = await store.operatorResponses.record({
          taskId: bytes32(1),
          operatorAddress: address(1),
          epoch: 1,
          submittedAtMs: START_MS + 50,
          outcome: 'refused',
          refusalReason: 'changed my mind',
        });
        expect(second.recorded).toBe(false);
        expect(second.response).toMatchObject({ outcome: 'signed', signature: signature(1) });
        const responses = await store.operatorResponses.listByTask(bytes32(1));
        expect(responses.map((response) => [response.operatorAddress, response.outcome])).toEqual([
          [address(1), 'signed'],
          [address(2), 'signed'],
          [address(3), 'refused'],
        ]);
      });

      test('behavior: recordMany stores a batch in one call; only the first answer per operator is kept; completeTask in the same transaction sees it', async () => {
        const { store } = await context.openRegistry();
        await setUpTaskRound(store);
        await store.tasks.create(task(2));
        const answer = (n: number, outcome: 'signed' | 'refused', atMs: number) =>
          outcome === 'signed'
            ? {
                taskId: bytes32(2),
                operatorAddress: address(n),
                epoch: 1,
                submittedAtMs: START_MS + atMs,
                outcome,
                signature: signature(n),
              }
            : {
                taskId: bytes32(2),
                operatorAddress: address(n),
                epoch: 1,
                submittedAtMs: START_MS + atMs,
                outcome,
                refusalReason: 'value mismatch',
              };
        expect(await store.operatorResponses.recordMany([])).toEqual({ recorded: 0 });
        const result = await store.transaction(async (tx) => {
          const batch = await tx.operatorResponses.recordMany([
            answer(1, 'signed', 1),
            answer(2, 'signed', 2),
            answer(1, 'refused', 3), // a second answer of operator 1 in the same batch
          ]);
          const completion = await tx.completeTask({
            taskId: bytes32(2),
            signers: [address(1), address(2)],
            signatureData: '0xabcdef',
            respondedAtMs: START_MS + 10,
          });
          return { batch, completed: completion.completed };
        });
        expect(result).toEqual({ batch: { recorded: 2 }, completed: true });
        // A later batch: operator 2 again (kept as stored) and operator 3 new.
        expect(
          await store.operatorResponses.recordMany([
            answer(2, 'refused', 20),
            answer(3, 'refused', 21),
          ]),
        ).toEqual({ recorded: 1 });
        const stored = await store.operatorResponses.listByTask(bytes32(2));
        expect(stored.map((r) => [r.operatorAddress, r.outcome, r.submittedAtMs])).toEqual([
          [address(1), 'signed', START_MS + 1],
          [address(2), 'signed', START_MS + 2],
          [address(3), 'refused', START_MS + 21],
        ]);
      });

      test('behavior: completeTask stores the proof, completes the task and counts signers, once', async () => {
        const { store } = await context.openRegistry();
        await setUpTaskRound(store);
        const completion = {
          taskId: bytes32(1),
          signers: [address(1), address(2)],
          signatureData: '0xabcdef' as const,
          respondedAtMs: START_MS + 100,
        };
        const result = await store.completeTask(completion);
        expect(result.completed).toBe(true);
        expect(result.task.status).toBe('completed');
        expect(result.response).toEqual({
          taskId: bytes32(1),
          epoch: 1,
          signers: [
            { operator: address(1), signature: signature(1) },
            { operator: address(2), signature: signature(2) },
          ],
          signatureData: '0xabcdef',
          signedWeightWei: 2n,
          respondedAtMs: START_MS + 100,
        });
        expect(await store.avsResponses.get(bytes32(1))).toEqual(result.response);

        const again = await store.completeTask(completion);
        expect(again.completed).toBe(false);
        expect(again.response).toEqual(result.response);
        const counts = (await store.operators.list()).map(
          (operator) => operator.successfulResponseCount,
        );
        expect(counts).toEqual([1, 1, 0]);
      });

      test('behavior: a proof below threshold or with a refusing signer is refused, writing nothing', async () => {
        const { store } = await context.openRegistry();
        await setUpTaskRound(store);
        const base = { taskId: bytes32(1), signatureData: '0x' as const, respondedAtMs: START_MS };
        await expect(store.completeTask({ ...base, signers: [address(1)] })).rejects.toMatchObject({
          reason: 'BELOW_THRESHOLD',
        });
        await expect(
          store.completeTask({ ...base, signers: [address(1), address(3)] }),
        ).rejects.toMatchObject({
          reason: 'SIGNER_INVALID',
        });
        expect((await store.tasks.get(bytes32(1)))?.status).toBe('pending');
        expect(await store.avsResponses.get(bytes32(1))).toBeUndefined();
        expect(
          (await store.operators.list()).map((operator) => operator.successfulResponseCount),
        ).toEqual([0, 0, 0]);
      });

      test('behavior: a task that already failed cannot complete', async () => {
        const { store } = await context.openRegistry();
        await setUpTaskRound(store);
        await store.tasks.setStatus(bytes32(1), 'failed');
        const completing = store.completeTask({
          taskId: bytes32(1),
          signers: [address(1), address(2)],
          signatureData: '0x',
          respondedAtMs: START_MS,
        });
        await expect(completing).rejects.toBeInstanceOf(StoreConflictError);
        await expect(completing).rejects.toMatchObject({ reason: 'TASK_FINAL' });
      });
    });

    describe('cursors and events', () => {
      test('behavior: cursors are kept per chain and stream, and can be rewound', async () => {
        const { store } = await context.openRegistry();
        expect(await store.cursors.get(1, 'operatorEvents')).toBeUndefined();
        await store.cursors.set(1, 'operatorEvents', { blockNumber: 50n, blockHash: bytes32(50) });
        await store.cursors.set(1, 'newHeads', { blockNumber: 60n, blockHash: bytes32(60) });
        await store.cursors.set(10, 'operatorEvents', { blockNumber: 7n, blockHash: bytes32(7) });
        await store.cursors.set(1, 'operatorEvents', { blockNumber: 45n, blockHash: bytes32(45) });
        expect(await store.cursors.get(1, 'operatorEvents')).toEqual({
          blockNumber: 45n,
          blockHash: bytes32(45),
        });
        expect(await store.cursors.get(1, 'newHeads')).toEqual({
          blockNumber: 60n,
          blockHash: bytes32(60),
        });
        expect(await store.cursors.get(10, 'operatorEvents')).toEqual({
          blockNumber: 7n,
          blockHash: bytes32(7),
        });
      });

      test('behavior: a chain log is recorded once; events list by operator, type and id', async () => {
        const { store } = await context.openRegistry();
        const chainEvent = {
          eventType: 'operatorRegistered',
          operatorAddress: address(1),
          chainLog: {
            blockNumber: 10n,
            blockHash: bytes32(10),
            logIndex: 3,
            transactionHash: bytes32(11),
          },
          data: { signingKey: address(0x1001), weight: '1000000000000000001' },
        };
        const first = await store.registryEvents.record(chainEvent);
        const replay = await store.registryEvents.record(chainEvent);
        expect(first.recorded).toBe(true);
        expect(replay).toEqual({ recorded: false, event: first.event });
        await store.registryEvents.record({
          eventType: 'operatorJoined',
          operatorAddress: address(1),
        });
        await store.registryEvents.record({
          eventType: 'operatorJoined',
          operatorAddress: address(2),
        });

        expect(
          await store.registryEvents.list({ operatorAddress: address(1), limit: 10 }),
        ).toHaveLength(2);
        const joined = await store.registryEvents.list({ eventType: 'operatorJoined', limit: 10 });
        expect(joined.map((event) => event.operatorAddress)).toEqual([address(1), address(2)]);
        expect(await store.registryEvents.list({ afterId: first.event.id, limit: 1 })).toHaveLength(
          1,
        );
        expect(first.event.data).toEqual(chainEvent.data);
      });
    });

    describe('transactions', () => {
      test("behavior: all or nothing; the caller's own error passes through unchanged", async () => {
        const { store } = await context.openRegistry();
        const failure = new RangeError('caller failure');
        await expect(
          store.transaction(async (tx) => {
            await tx.operators.upsert(registration(1));
            await tx.tasks.create(task(1));
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.operators.list()).toEqual([]);
        expect(await store.tasks.get(bytes32(1))).toBeUndefined();

        const committed = await store.transaction(async (tx) => {
          await tx.operators.upsert(registration(1));
          await tx.registryEvents.record({
            eventType: 'operatorRegistered',
            operatorAddress: address(1),
          });
          await tx.cursors.set(1, 'operatorEvents', { blockNumber: 10n, blockHash: bytes32(10) });
          return tx.operators.get(address(1));
        });
        expect(committed?.address).toBe(address(1));
        expect(await store.cursors.get(1, 'operatorEvents')).toBeDefined();
      });

      test('behavior: composite methods join the surrounding transaction', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1, { status: 'waitingActive' }));
        await expect(
          store.transaction(async (tx) => {
            await tx.applyEpochAdvance({
              epochState: epochState(1),
              operatorUpdates: [{ address: address(1), status: 'active' }],
              epochOperators: [
                { operator: address(1), weightWei: 1n, signingKey: address(0x1001) },
              ],
            });
            throw new Error('abort after the advance');
          }),
        ).rejects.toThrow('abort after the advance');
        expect(await store.epochStates.get(1)).toBeUndefined();
        expect((await store.operators.get(address(1)))?.status).toBe('waitingActive');
      });
    });
  });
}
