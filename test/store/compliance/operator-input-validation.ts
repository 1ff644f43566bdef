import { beforeAll, describe, expect, test } from 'vitest';
import { StoreInputError } from '../../../src/store/errors.ts';
import type { OperatorStore } from '../../../src/store/operator/operator-store.ts';
import type { PeerStatus } from '../../../src/store/operator/peer-cache.ts';
import {
  address,
  bytes32,
  createQueryCounter,
  epochState,
  START_MS,
  task,
  UINT256_MAX,
} from '../harness.ts';
import type { OperatorComplianceContext } from '../operator-compliance.ts';
import {
  type BadCall,
  MALFORMED_ADDRESS,
  SHORT_HEX,
  SIGNATURE_WITH_V_ZERO,
  UNKNOWN_OPERATOR_STATUS,
  UNKNOWN_TASK_STATUS,
} from './bad-input.ts';

const OPERATOR_CASES: BadCall<OperatorStore>[] = [
  {
    name: 'localOperator.put: malformed address',
    field: 'address',
    call: (s) =>
      s.localOperator.put({
        address: MALFORMED_ADDRESS,
        signingKey: address(2),
        activeEpoch: 1,
        status: 'active',
        weightWei: 1n,
      }),
  },
  {
    name: 'localOperator.put: negative weight',
    field: 'weightWei',
    call: (s) =>
      s.localOperator.put({
        address: address(1),
        signingKey: address(2),
        activeEpoch: 1,
        status: 'active',
        weightWei: -1n,
      }),
  },
  {
    name: 'localOperator.put: unknown status',
    field: 'status',
    call: (s) =>
      s.localOperator.put({
        address: address(1),
        signingKey: address(2),
        activeEpoch: 1,
        status: UNKNOWN_OPERATOR_STATUS,
        weightWei: 1n,
      }),
  },
  {
    name: 'currentEpochState.put: negative epoch',
    field: 'epoch',
    call: (s) => s.currentEpochState.put(epochState(-1)),
  },
  {
    name: 'tasks.create: malformed target',
    field: 'targetAddress',
    call: (s) => s.tasks.create(task(1, { targetAddress: MALFORMED_ADDRESS })),
  },
  {
    name: 'tasks.create: key past uint256',
    field: 'key',
    call: (s) => s.tasks.create(task(1, { key: UINT256_MAX + 1n })),
  },
  {
    name: 'tasks.setStatus: unknown status',
    field: 'status',
    call: (s) => s.tasks.setStatus(bytes32(1), UNKNOWN_TASK_STATUS),
  },
  {
    name: 'tasks.listByStatus: zero limit',
    field: 'limit',
    call: (s) => s.tasks.listByStatus('pending', { limit: 0 }),
  },
  {
    name: 'tasks.deleteCreatedBefore: negative time',
    field: 'beforeMs',
    call: (s) => s.tasks.deleteCreatedBefore(-1),
  },
  {
    name: 'taskResponses.record: v = 0',
    field: 'signature',
    call: (s) =>
      s.taskResponses.record({
        taskId: bytes32(1),
        submittedAtMs: START_MS,
        outcome: 'signed',
        signature: SIGNATURE_WITH_V_ZERO,
      }),
  },
  {
    name: 'taskResponses.get: short task id',
    field: 'taskId',
    call: (s) => s.taskResponses.get(SHORT_HEX),
  },
  {
    name: 'peerCache.upsert: unknown status',
    field: 'status',
    call: (s) =>
      s.peerCache.upsert({
        peerId: 'peer-1',
        lastSeenAtMs: START_MS,
        status: 'online' as PeerStatus,
      }),
  },
  {
    name: 'peerCache.upsert: malformed operator',
    field: 'operatorAddress',
    call: (s) =>
      s.peerCache.upsert({
        peerId: 'peer-1',
        operatorAddress: MALFORMED_ADDRESS,
        lastSeenAtMs: START_MS,
        status: 'connected',
      }),
  },
  {
    name: 'peerCache.upsert: too many addresses',
    field: 'addresses',
    call: (s) =>
      s.peerCache.upsert({
        peerId: 'peer-1',
        addresses: Array.from({ length: 33 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`),
        lastSeenAtMs: START_MS,
        status: 'connected',
      }),
  },
  {
    name: 'peerCache.upsert: empty peer id',
    field: 'peerId',
    call: (s) => s.peerCache.upsert({ peerId: '', lastSeenAtMs: START_MS, status: 'connected' }),
  },
  {
    name: 'peerCache.list: zero limit',
    field: 'limit',
    call: (s) => s.peerCache.list({ limit: 0 }),
  },
  {
    name: 'peerCache.pruneLastSeenBefore: not a number',
    field: 'beforeMs',
    call: (s) => s.peerCache.pruneLastSeenBefore(Number.NaN),
  },
];

export function describeOperatorInputValidation(context: OperatorComplianceContext): void {
  describe('input validation', () => {
    describe('operator store: bad input fails before any query', () => {
      let store: OperatorStore;
      const queries = createQueryCounter();
      beforeAll(async () => {
        store = (await context.openOperator({ onQuery: queries.onQuery })).store;
      });

      test.each(OPERATOR_CASES)('$name', async ({ field, call }) => {
        const before = queries.count();
        const result = call(store);
        await expect(result).rejects.toBeInstanceOf(StoreInputError);
        await expect(result).rejects.toMatchObject({ code: 'INVALID_INPUT', field });
        expect(queries.count()).toBe(before);
      });
    });
  });
}
