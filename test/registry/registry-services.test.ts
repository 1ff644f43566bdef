import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IllegalTransitionError } from '../../src/core/errors.ts';
import type { OperatorStatus } from '../../src/core/operator-status.ts';
import { unsuspendOperator } from '../../src/registry/admin.ts';
import { UnknownOperatorError } from '../../src/registry/errors.ts';
import { createHealthService } from '../../src/registry/health-service.ts';
import type { OperatorEventWatcherHealth } from '../../src/registry/operator-event-watcher.ts';
import { epochStateHash } from '../../src/registry/state-hash.ts';
import { createSyncService } from '../../src/registry/sync-service.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { createTestClock, createTestLogger, newKey, openTestStore } from './support.ts';

const clock = createTestClock();
const log = createTestLogger();
const noNetwork = { handle: async () => {}, unhandle: async () => {} };

let store: RegistryStore;
let closeStore: () => Promise<void>;

async function seed(status: OperatorStatus, extra: { activeEpoch?: number } = {}) {
  const account = newKey();
  const key = newKey();
  await store.operators.upsert({
    address: account.address,
    signingKey: key.address,
    registeredAtBlockNumber: 1n,
    registeredAtTimestampSec: 1n,
    activeEpoch: extra.activeEpoch ?? 1,
    status,
    weightWei: 10n,
  });
  return { address: account.address, signingKey: key.address };
}

beforeAll(async () => {
  ({ store, close: closeStore } = await openTestStore(clock));
});

afterAll(async () => {
  await closeStore?.();
});

describe('sync service', () => {
  const sync = () => createSyncService({ network: noNetwork, store, clock, log });

  test('behavior: before any epoch it answers no epoch state and the known records', async () => {
    const waiting = await seed('waitingJoin');
    const answer = await sync().answer('somePeer', { fromEpoch: 0, stateHash: null });
    expect(answer.latestEpoch).toBeNull();
    expect(answer.stateHash).toBeNull();
    expect(answer.operators).toEqual([
      {
        address: waiting.address,
        signingKey: waiting.signingKey,
        status: 'waitingJoin',
        activeEpoch: 1,
        exitEpoch: null,
        weightWei: 10n,
        missing: 0,
        successfulResponseCount: 0,
      },
    ]);
  });

  test('behavior: it answers the latest epoch with its active operators, and every record', async () => {
    const active = await seed('waitingActive');
    const state = {
      epoch: 1,
      startBlock: 13n,
      minimumWeightWei: 1n,
      totalWeightWei: 10n,
      thresholdWeightWei: 7n,
    };
    await store.applyEpochAdvance({
      epochState: state,
      operatorUpdates: [
        { address: active.address, status: 'active', expectedStatus: 'waitingActive' },
      ],
      epochOperators: [{ operator: active.address, weightWei: 10n, signingKey: active.signingKey }],
    });
    await store.applyEpochAdvance({
      epochState: { ...state, epoch: 2, startBlock: 25n },
      operatorUpdates: [],
      epochOperators: [{ operator: active.address, weightWei: 10n, signingKey: active.signingKey }],
    });
    const answer = await sync().answer('somePeer', { fromEpoch: 1, stateHash: null });
    expect(answer.latestEpoch).toEqual({
      ...state,
      epoch: 2,
      startBlock: 25n,
      operators: [{ operator: active.address, weightWei: 10n, signingKey: active.signingKey }],
      publishedAtMs: expect.any(Number),
    });
    expect(answer.operators.map((record) => [record.address, record.status])).toContainEqual([
      active.address,
      'active',
    ]);
    expect(answer.operators).toHaveLength((await store.operators.list()).length);
    const snapshot = answer.latestEpoch?.operators ?? [];
    expect(answer.stateHash).toBe(
      epochStateHash({ ...state, epoch: 2, startBlock: 25n }, snapshot),
    );
  });

  test('behavior: a request with a state hash (a registry comparing) gets exactly that epoch', async () => {
    const latest = await sync().answer('somePeer', { fromEpoch: 0, stateHash: null });
    const asked = (latest.latestEpoch?.epoch ?? 1) - 1;
    const answer = await sync().answer('otherRegistry', {
      fromEpoch: asked,
      stateHash: `0x${'00'.repeat(32)}`,
    });
    expect(answer.latestEpoch?.epoch).toBe(asked);
    expect(answer.stateHash).not.toBe(latest.stateHash);
    const beyond = await sync().answer('otherRegistry', {
      fromEpoch: 99,
      stateHash: `0x${'00'.repeat(32)}`,
    });
    expect(beyond.latestEpoch?.epoch).toBe(latest.latestEpoch?.epoch);
    expect(beyond.stateHash).toBe(latest.stateHash);
  });
});

describe('health service', () => {
  function healthWith(watcher: Partial<OperatorEventWatcherHealth>, epoch: number | undefined) {
    return createHealthService({
      network: { ...noNetwork, connectedPeers: () => ['a', 'b', 'c'] },
      watcher: {
        health: () => ({
          status: 'ok',
          syncedToBlock: 10n,
          caughtUp: true,
          reorgBeyondDepth: null,
          lastError: null,
          ...watcher,
        }),
      },
      advancer: { currentEpoch: () => epoch },
      log,
    }).health();
  }

  test('behavior: starting until the watcher has caught up and an epoch has been advanced', () => {
    expect(healthWith({ status: 'starting' }, undefined)).toEqual({
      role: 'registry',
      status: 'starting',
      epoch: 0,
      peers: 3,
      operator: null,
    });
    expect(healthWith({ status: 'starting' }, 4).status).toBe('starting');
    expect(healthWith({ status: 'ok' }, undefined).status).toBe('starting');
    expect(healthWith({ status: 'ok' }, 4)).toMatchObject({ status: 'ok', epoch: 4 });
  });

  test('behavior: degraded after a reorg deeper than the confirmation depth', () => {
    const reorg = { blockNumber: 7n, message: 'a reorg deeper than the confirmation depth' };
    expect(healthWith({ status: 'degraded', reorgBeyondDepth: reorg }, 4)).toMatchObject({
      status: 'degraded',
      epoch: 4,
    });
  });
});

describe('admin: unsuspendOperator', () => {
  test('behavior: a suspended operator returns to its status for the current epoch, missing reset', async () => {
    const operator = await seed('active');
    for (let miss = 0; miss < 5; miss++) {
      await store.operators.recordMiss(operator.address, {
        suspendAtMisses: 5,
        taskId: `0x${(miss + 1).toString(16).padStart(64, '0')}`,
      });
    }
    expect(await store.operators.get(operator.address)).toMatchObject({
      status: 'suspended',
      statusBeforeSuspension: 'active',
      missing: 5,
    });
    const result = await unsuspendOperator(store, operator.address, 3);
    expect(result.change).toEqual({
      operator: operator.address,
      from: 'suspended',
      to: 'active',
      trigger: 'adminUnsuspend',
    });
    expect(await store.operators.get(operator.address)).toMatchObject({
      status: 'active',
      statusBeforeSuspension: null,
      missing: 0,
    });
    const events = await store.registryEvents.list({
      operatorAddress: operator.address,
      eventType: 'operatorUnsuspended',
      limit: 5,
    });
    expect(events.map((event) => event.data)).toEqual([
      { from: 'suspended', to: 'active', currentEpoch: 3 },
    ]);
  });

  test('behavior: a waitingActive operator whose active epoch has passed comes back active', async () => {
    const operator = await seed('waitingActive', { activeEpoch: 4 });
    await store.operators.updateStatus(operator.address, 'suspended');
    expect((await unsuspendOperator(store, operator.address, 3)).operator.status).toBe(
      'waitingActive',
    );
    await store.operators.updateStatus(operator.address, 'suspended');
    expect((await unsuspendOperator(store, operator.address, 4)).operator.status).toBe('active');
  });

  test('behavior: an operator that is not suspended is refused, and nothing changes', async () => {
    const operator = await seed('active');
    await expect(unsuspendOperator(store, operator.address, 3)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    expect((await store.operators.get(operator.address))?.status).toBe('active');
  });

  test('behavior: an unknown operator is refused with UnknownOperatorError', async () => {
    const error = await unsuspendOperator(store, newKey().address, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOperatorError);
    expect((error as UnknownOperatorError).code).toBe('UNKNOWN_OPERATOR');
  });
});
