import type { Address } from 'viem';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  CheckViolationError,
  ForeignKeyViolationError,
  StoreInputError,
  UniqueViolationError,
} from '../../../src/store/errors.ts';
import { mapDatabaseError } from '../../../src/store/map-database-error.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import type { TaskFailureStatus } from '../../../src/store/registry/tasks.ts';
import type { ComplianceContext } from '../compliance.ts';
import {
  address,
  bytes32,
  createQueryCounter,
  epochState,
  registration,
  START_MS,
  signature,
  task,
  UINT256_MAX,
} from '../harness.ts';
import {
  BAD_CHECKSUM_ADDRESS,
  type BadCall,
  MALFORMED_ADDRESS,
  SHORT_HEX,
  SIGNATURE_WITH_V_ZERO,
  UNKNOWN_OPERATOR_STATUS,
  UNKNOWN_TASK_STATUS,
} from './bad-input.ts';

const REGISTRY_CASES: BadCall<RegistryStore>[] = [
  {
    name: 'operators.upsert: malformed address',
    field: 'address',
    call: (s) => s.operators.upsert(registration(1, { address: MALFORMED_ADDRESS })),
  },
  {
    name: 'operators.upsert: wrong checksum',
    field: 'address',
    call: (s) => s.operators.upsert(registration(1, { address: BAD_CHECKSUM_ADDRESS })),
  },
  {
    name: 'operators.upsert: negative weight',
    field: 'weightWei',
    call: (s) => s.operators.upsert(registration(1, { weightWei: -1n })),
  },
  {
    name: 'operators.upsert: weight past uint256',
    field: 'weightWei',
    call: (s) => s.operators.upsert(registration(1, { weightWei: UINT256_MAX + 1n })),
  },
  {
    name: 'operators.upsert: weight as a number',
    field: 'weightWei',
    call: (s) => s.operators.upsert(registration(1, { weightWei: 5 as unknown as bigint })),
  },
  {
    name: 'operators.upsert: unknown status',
    field: 'status',
    call: (s) => s.operators.upsert(registration(1, { status: UNKNOWN_OPERATOR_STATUS })),
  },
  {
    name: 'operators.upsert: epoch past uint32',
    field: 'activeEpoch',
    call: (s) => s.operators.upsert(registration(1, { activeEpoch: 2 ** 32 })),
  },
  {
    name: 'operators.upsert: negative epoch',
    field: 'exitEpoch',
    call: (s) => s.operators.upsert(registration(1, { exitEpoch: -1 })),
  },
  {
    name: 'operators.upsert: fractional epoch',
    field: 'activeEpoch',
    call: (s) => s.operators.upsert(registration(1, { activeEpoch: 1.5 })),
  },
  {
    name: 'operators.upsert: negative block number',
    field: 'registeredAtBlockNumber',
    call: (s) => s.operators.upsert(registration(1, { registeredAtBlockNumber: -1n })),
  },
  {
    name: 'operators.get: malformed address',
    field: 'address',
    call: (s) => s.operators.get('not an address' as Address),
  },
  {
    name: 'operatorFacts.totals: malformed address',
    field: 'operator',
    call: (s) => s.operatorFacts.totals(MALFORMED_ADDRESS),
  },
  {
    name: 'operators.getBySigningKey: malformed address',
    field: 'signingKey',
    call: (s) => s.operators.getBySigningKey(MALFORMED_ADDRESS),
  },
  {
    name: 'operators.listByStatus: unknown status',
    field: 'status',
    call: (s) => s.operators.listByStatus(UNKNOWN_OPERATOR_STATUS),
  },
  {
    name: 'operators.listByStatus: unknown status in a list',
    field: 'status[1]',
    call: (s) => s.operators.listByStatus(['active', UNKNOWN_OPERATOR_STATUS]),
  },
  {
    name: 'operators.updateStatus: unknown status',
    field: 'status',
    call: (s) => s.operators.updateStatus(address(1), UNKNOWN_OPERATOR_STATUS),
  },
  {
    name: 'operators.updateStatus: unknown expected status',
    field: 'expectedStatus',
    call: (s) =>
      s.operators.updateStatus(address(1), 'active', { expectedStatus: UNKNOWN_OPERATOR_STATUS }),
  },
  {
    name: 'operators.update: empty patch',
    field: 'patch',
    call: (s) => s.operators.update(address(1), {}),
  },
  {
    name: 'operators.update: negative weight',
    field: 'weightWei',
    call: (s) => s.operators.update(address(1), { weightWei: -5n }),
  },
  {
    name: 'operators.update: negative missing',
    field: 'missing',
    call: (s) => s.operators.update(address(1), { missing: -1 }),
  },
  {
    name: 'operators.recordMiss: zero threshold',
    field: 'suspendAtMisses',
    call: (s) =>
      s.operators.recordMiss(address(1), { suspendAtMisses: 0, taskId: `0x${'1'.repeat(64)}` }),
  },
  {
    name: 'operators.recordSuccessfulResponses: malformed address',
    field: 'addresses[1]',
    call: (s) => s.operators.recordSuccessfulResponses([address(1), MALFORMED_ADDRESS]),
  },
  { name: 'epochStates.get: negative epoch', field: 'epoch', call: (s) => s.epochStates.get(-1) },
  {
    name: 'epochStates.put: total weight past uint256',
    field: 'totalWeightWei',
    call: (s) => s.epochStates.put(epochState(1, { totalWeightWei: 2n ** 256n })),
  },
  {
    name: 'epochStates.list: zero limit',
    field: 'limit',
    call: (s) => s.epochStates.list({ limit: 0 }),
  },
  {
    name: 'epochOperators.snapshot: malformed address',
    field: 'entries[0].operator',
    call: (s) =>
      s.epochOperators.snapshot(1, [
        { operator: MALFORMED_ADDRESS, weightWei: 1n, signingKey: address(2) },
      ]),
  },
  {
    name: 'epochOperators.snapshot: negative weight',
    field: 'entries[0].weightWei',
    call: (s) =>
      s.epochOperators.snapshot(1, [
        { operator: address(1), weightWei: -1n, signingKey: address(2) },
      ]),
  },
  {
    name: 'epochOperators.snapshot: operator twice',
    field: 'entries[1].operator',
    call: (s) =>
      s.epochOperators.snapshot(1, [
        { operator: address(1), weightWei: 1n, signingKey: address(2) },
        { operator: address(1), weightWei: 2n, signingKey: address(2) },
      ]),
  },
  {
    name: 'epochOperators.list: fractional epoch',
    field: 'epoch',
    call: (s) => s.epochOperators.list(1.5),
  },
  {
    name: 'epochOperators.get: malformed address',
    field: 'address',
    call: (s) => s.epochOperators.get(1, MALFORMED_ADDRESS),
  },
  {
    name: 'epochOperators.sumWeights: epoch past uint32',
    field: 'epoch',
    call: (s) => s.epochOperators.sumWeights(2 ** 32),
  },
  {
    name: 'registryEvents.record: bad event type',
    field: 'eventType',
    call: (s) => s.registryEvents.record({ eventType: 'Operator Registered' }),
  },
  {
    name: 'registryEvents.record: short block hash',
    field: 'chainLog.blockHash',
    call: (s) =>
      s.registryEvents.record({
        eventType: 'operatorRegistered',
        chainLog: { blockNumber: 1n, blockHash: SHORT_HEX, logIndex: 0 },
      }),
  },
  {
    name: 'registryEvents.record: bigint in data',
    field: 'data',
    call: (s) =>
      s.registryEvents.record({
        eventType: 'operatorRegistered',
        data: { weight: 1n } as unknown as { weight: string },
      }),
  },
  {
    name: 'registryEvents.list: zero limit',
    field: 'limit',
    call: (s) => s.registryEvents.list({ limit: 0 }),
  },
  {
    name: 'tasks.create: value past uint256',
    field: 'value',
    call: (s) => s.tasks.create(task(1, { value: UINT256_MAX + 1n })),
  },
  {
    name: 'tasks.create: short task id',
    field: 'taskId',
    call: (s) => s.tasks.create(task(1, { taskId: SHORT_HEX })),
  },
  {
    name: 'tasks.create: timestamp past uint48',
    field: 'timestampSec',
    call: (s) => s.tasks.create(task(1, { timestampSec: 2n ** 48n })),
  },
  {
    name: 'tasks.setStatus: completed without a proof',
    field: 'status',
    call: (s) => s.tasks.setStatus(bytes32(1), 'completed' as TaskFailureStatus),
  },
  {
    name: 'tasks.setStatus: unknown status',
    field: 'status',
    call: (s) => s.tasks.setStatus(bytes32(1), UNKNOWN_TASK_STATUS as TaskFailureStatus),
  },
  {
    name: 'tasks.recordRetry: short task id',
    field: 'taskId',
    call: (s) => s.tasks.recordRetry(SHORT_HEX),
  },
  {
    name: 'tasks.listByStatus: unknown status',
    field: 'status',
    call: (s) => s.tasks.listByStatus(UNKNOWN_TASK_STATUS, { limit: 10 }),
  },
  {
    name: 'tasks.listExpired: negative time',
    field: 'nowMs',
    call: (s) => s.tasks.listExpired({ nowMs: -1, limit: 10 }),
  },
  {
    name: 'operatorResponses.record: v = 0',
    field: 'signature',
    call: (s) =>
      s.operatorResponses.record({
        taskId: bytes32(1),
        operatorAddress: address(1),
        epoch: 1,
        submittedAtMs: START_MS,
        outcome: 'signed',
        signature: SIGNATURE_WITH_V_ZERO,
      }),
  },
  {
    name: 'operatorResponses.record: empty refusal reason',
    field: 'refusalReason',
    call: (s) =>
      s.operatorResponses.record({
        taskId: bytes32(1),
        operatorAddress: address(1),
        epoch: 1,
        submittedAtMs: START_MS,
        outcome: 'refused',
        refusalReason: '',
      }),
  },
  {
    name: 'operatorResponses.record: unknown outcome',
    field: 'outcome',
    call: (s) =>
      s.operatorResponses.record({
        taskId: bytes32(1),
        operatorAddress: address(1),
        epoch: 1,
        submittedAtMs: START_MS,
        outcome: 'maybe',
      } as unknown as Parameters<RegistryStore['operatorResponses']['record']>[0]),
  },
  {
    name: 'operatorResponses.recordMany: a bad address in the second entry',
    field: 'responses[1].operatorAddress',
    call: (s) =>
      s.operatorResponses.recordMany([
        {
          taskId: bytes32(1),
          operatorAddress: address(1),
          epoch: 1,
          submittedAtMs: START_MS,
          outcome: 'refused',
          refusalReason: 'value mismatch',
        },
        {
          taskId: bytes32(1),
          operatorAddress: '0x1234' as `0x${string}`,
          epoch: 1,
          submittedAtMs: START_MS,
          outcome: 'refused',
          refusalReason: 'value mismatch',
        },
      ]),
  },
  {
    name: 'operatorResponses.recordMany: not a list',
    field: 'responses',
    call: (s) =>
      s.operatorResponses.recordMany(
        'nope' as unknown as Parameters<RegistryStore['operatorResponses']['recordMany']>[0],
      ),
  },
  {
    name: 'operatorResponses.listByTask: short task id',
    field: 'taskId',
    call: (s) => s.operatorResponses.listByTask(SHORT_HEX),
  },
  {
    name: 'avsResponses.get: short task id',
    field: 'taskId',
    call: (s) => s.avsResponses.get(SHORT_HEX),
  },
  {
    name: 'completeTask: signers not ascending',
    field: 'signers[1]',
    call: (s) =>
      s.completeTask({
        taskId: bytes32(1),
        signers: [address(2), address(1)],
        signatureData: '0x',
        respondedAtMs: START_MS,
      }),
  },
  {
    name: 'completeTask: no signers',
    field: 'signers',
    call: (s) =>
      s.completeTask({
        taskId: bytes32(1),
        signers: [],
        signatureData: '0x',
        respondedAtMs: START_MS,
      }),
  },
  {
    name: 'completeTask: odd-length signature data',
    field: 'signatureData',
    call: (s) =>
      s.completeTask({
        taskId: bytes32(1),
        signers: [address(1)],
        signatureData: '0x123',
        respondedAtMs: START_MS,
      }),
  },
  {
    name: 'cursors.get: negative chain id',
    field: 'chainId',
    call: (s) => s.cursors.get(-1, 'operatorEvents'),
  },
  {
    name: 'cursors.set: bad stream name',
    field: 'stream',
    call: (s) => s.cursors.set(1, 'operator events!', { blockNumber: 1n, blockHash: bytes32(1) }),
  },
  {
    name: 'cursors.set: negative block number',
    field: 'cursor.blockNumber',
    call: (s) => s.cursors.set(1, 'operatorEvents', { blockNumber: -1n, blockHash: bytes32(1) }),
  },
  {
    name: 'applyEpochAdvance: epoch past uint32',
    field: 'epochState.epoch',
    call: (s) =>
      s.applyEpochAdvance({
        epochState: epochState(2 ** 32),
        operatorUpdates: [],
        epochOperators: [],
      }),
  },
  {
    name: 'applyEpochAdvance: unknown status',
    field: 'operatorUpdates[0].status',
    call: (s) =>
      s.applyEpochAdvance({
        epochState: epochState(1),
        operatorUpdates: [{ address: address(1), status: UNKNOWN_OPERATOR_STATUS }],
        epochOperators: [],
      }),
  },
  {
    name: 'applyEpochAdvance: negative snapshot weight',
    field: 'epochOperators[0].weightWei',
    call: (s) =>
      s.applyEpochAdvance({
        epochState: epochState(1),
        operatorUpdates: [],
        epochOperators: [{ operator: address(1), weightWei: -1n, signingKey: address(2) }],
      }),
  },
];

export function describeInputValidation(context: ComplianceContext): void {
  describe('input validation', () => {
    describe('registry store: bad input fails before any query', () => {
      let store: RegistryStore;
      const queries = createQueryCounter();
      beforeAll(async () => {
        store = (await context.openRegistry({ onQuery: queries.onQuery })).store;
      });

      test.each(REGISTRY_CASES)('$name', async ({ field, call }) => {
        const before = queries.count();
        const result = call(store);
        await expect(result).rejects.toBeInstanceOf(StoreInputError);
        await expect(result).rejects.toMatchObject({ code: 'INVALID_INPUT', field });
        await expect(result).rejects.toThrow(field);
        expect(queries.count()).toBe(before);
      });
    });

    test('behavior: the error message names the operation and the field', async () => {
      const { store } = await context.openRegistry();
      await expect(store.operators.upsert(registration(1, { weightWei: -1n }))).rejects.toThrow(
        'operators.upsert: weightWei: must not be negative (uint256), got -1',
      );
    });

    // Raw SQL that bypasses the store: only SQL adapters have a schema to enforce constraints.
    describe.runIf(context.sql)('constraints stop what skips validation', () => {
      /** Runs raw SQL that bypasses the store and returns the typed error the store would raise. */
      const rejectRaw = async (sql: string) => {
        try {
          await context.harness().rawQuery(sql);
        } catch (error) {
          return mapDatabaseError('raw', error);
        }
        throw new Error(`expected the database to reject: ${sql}`);
      };

      test.each([
        [
          'negative weight',
          (schema: string) => `UPDATE ${schema}.operators SET weight = -1`,
          'uint256_range',
        ],
        [
          'weight of 2^256',
          (schema: string) => `UPDATE ${schema}.operators SET weight = ${2n ** 256n}`,
          'uint256_range',
        ],
        [
          'unknown status',
          (schema: string) => `UPDATE ${schema}.operators SET status = 'retired'`,
          'operators_status_check',
        ],
        [
          'uppercase address',
          (schema: string) => `UPDATE ${schema}.operators SET signing_key = '0x${'AB'.repeat(20)}'`,
          'evm_address_format',
        ],
        [
          'epoch of 2^32',
          (schema: string) => `UPDATE ${schema}.operators SET active_epoch = 4294967296`,
          'uint32_range',
        ],
        [
          'negative missing count',
          (schema: string) => `UPDATE ${schema}.operators SET missing = -1`,
          'counter_non_negative',
        ],
      ])(
        'behavior: %s is refused by the CHECK constraint %s',
        async (_name, statement, constraint) => {
          const { store, schema } = await context.openRegistry();
          await store.operators.upsert(registration(1));
          const error = await rejectRaw(statement(schema));
          expect(error).toBeInstanceOf(CheckViolationError);
          expect(error).toMatchObject({ code: 'CHECK_VIOLATION', constraint });
        },
      );

      test('behavior: a signature with v = 0 is refused by its domain constraint', async () => {
        const { store, schema } = await context.openOperator();
        await store.tasks.create(task(1));
        const error = await rejectRaw(
          `INSERT INTO ${schema}.task_responses (task_id, outcome, signature, submitted_at)
           VALUES ('${bytes32(1)}', 'signed', '${SIGNATURE_WITH_V_ZERO}', now())`,
        );
        expect(error).toMatchObject({
          code: 'CHECK_VIOLATION',
          constraint: 'ecdsa_signature_format',
        });
      });

      test('behavior: a duplicate key surfaces as UniqueViolationError', async () => {
        const { store, schema } = await context.openOperator();
        await store.localOperator.put({
          address: address(1),
          signingKey: address(2),
          activeEpoch: 1,
          status: 'active',
          weightWei: 1n,
        });
        const error = await rejectRaw(
          `INSERT INTO ${schema}.local_operator (address, signing_key, active_epoch, current_status, last_updated_at)
           VALUES ('${address(3).toLowerCase()}', '${address(2).toLowerCase()}', 1, 'active', now())`,
        );
        expect(error).toBeInstanceOf(UniqueViolationError);
        expect(error).toMatchObject({
          code: 'UNIQUE_VIOLATION',
          constraint: 'local_operator_single_row',
        });
      });

      test('behavior: a response to an unknown task is refused by a foreign key, through the repository', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1));
        const recording = store.operatorResponses.record({
          taskId: bytes32(404),
          operatorAddress: address(1),
          epoch: 1,
          submittedAtMs: START_MS,
          outcome: 'signed',
          signature: signature(1),
        });
        await expect(recording).rejects.toBeInstanceOf(ForeignKeyViolationError);
        await expect(recording).rejects.toMatchObject({
          operation: 'operatorResponses.record',
          constraint: 'operator_task_responses_task_fk',
        });
      });

      test('behavior: a response naming another epoch than its task is refused', async () => {
        const { store } = await context.openRegistry();
        await store.operators.upsert(registration(1));
        await store.tasks.create(task(1, { epoch: 3 }));
        await expect(
          store.operatorResponses.record({
            taskId: bytes32(1),
            operatorAddress: address(1),
            epoch: 4,
            submittedAtMs: START_MS,
            outcome: 'refused',
            refusalReason: 'not active',
          }),
        ).rejects.toMatchObject({
          code: 'FOREIGN_KEY_VIOLATION',
          constraint: 'operator_task_responses_task_fk',
        });
      });
    });
  });
}
