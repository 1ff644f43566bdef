import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  applyTaskAccounting,
  MISSES_BEFORE_SUSPENSION,
  recordMissedResponse,
  recordSuccessfulResponse,
} from './operator-counters.ts';
import { unsuspendOperator } from './operator-lifecycle.ts';
import type { OperatorRecord } from './operator-record.ts';
import type { TaskEvent } from './task-round.ts';
import { addressWithPrefix, operatorRecord } from './test-fixtures.ts';

describe('missing accounting', () => {
  test('behavior: 4 misses keep the operator active, the 5th suspends it', () => {
    let record: OperatorRecord = operatorRecord({ status: 'active' });
    for (let miss = 1; miss <= 4; miss++) {
      const update = recordMissedResponse(record);
      expect(update.change).toBeNull();
      record = update.operator;
      expect(record).toMatchObject({ status: 'active', missing: miss });
    }
    const fifth = recordMissedResponse(record);
    expect(MISSES_BEFORE_SUSPENSION).toBe(5);
    expect(fifth.operator).toMatchObject({
      status: 'suspended',
      missing: 5,
      statusBeforeSuspension: 'active',
    });
    expect(fifth.change).toEqual({
      operator: record.address,
      from: 'active',
      to: 'suspended',
      trigger: 'suspend',
    });
  });

  test('behavior: a suspended operator keeps counting and stays suspended', () => {
    const suspended = operatorRecord({
      status: 'suspended',
      missing: 5,
      statusBeforeSuspension: 'active',
    });
    const update = recordMissedResponse(suspended);
    expect(update).toEqual({ operator: { ...suspended, missing: 6 }, change: null });
  });

  test('behavior: after an admin unsuspend the count restarts, so 5 new misses are needed', () => {
    let record = recordMissedResponse(operatorRecord({ missing: 4 })).operator;
    record = unsuspendOperator(record, 5).operator;
    expect(record).toMatchObject({ status: 'active', missing: 0 });
    for (let miss = 0; miss < 4; miss++) record = recordMissedResponse(record).operator;
    expect(record.status).toBe('active');
    expect(recordMissedResponse(record).operator.status).toBe('suspended');
  });

  test('behavior: successful responses count one per completed proof', () => {
    const record = operatorRecord({ successfulResponseCount: 41 });
    expect(recordSuccessfulResponse(record)).toEqual({ ...record, successfulResponseCount: 42 });
  });
});

describe('applyTaskAccounting', () => {
  const A = addressWithPrefix(0x0a, 1);
  const B = addressWithPrefix(0x0b, 2);
  const C = addressWithPrefix(0x0c, 3);

  test('behavior: misses and included signers from one task’s events', () => {
    const operators = [
      operatorRecord({ address: A }),
      operatorRecord({ address: B, missing: 4 }),
      operatorRecord({ address: C }),
    ];
    const events: TaskEvent[] = [
      { kind: 'roundStarted', round: 0, asked: [A, B, C], deadlineAtMs: 3_000 },
      {
        kind: 'completed',
        signatures: [
          { operator: A, signature: '0x' },
          { operator: C, signature: '0x' },
        ],
        signedWeightWei: 2n,
      },
      { kind: 'operatorMissed', operator: B, round: 0, reason: 'noResponse' },
    ];
    const { operators: after, statusChanges } = applyTaskAccounting(operators, events);
    expect(
      after.map((record) => [record.status, record.missing, record.successfulResponseCount]),
    ).toEqual([
      ['active', 0, 1],
      ['suspended', 5, 0],
      ['active', 0, 1],
    ]);
    expect(statusChanges).toEqual([
      { operator: B, from: 'active', to: 'suspended', trigger: 'suspend' },
    ]);
  });

  test('property: counters equal a reference count of the events; suspended iff ≥ 5 misses', () => {
    const operators = [A, B, C].map((address) => operatorRecord({ address }));
    const event = fc.oneof(
      fc.constantFrom(A, B, C).map(
        (operator): TaskEvent => ({
          kind: 'operatorMissed',
          operator,
          round: 0,
          reason: 'noResponse',
        }),
      ),
      fc.subarray([A, B, C], { minLength: 1 }).map(
        (signers): TaskEvent => ({
          kind: 'completed',
          signatures: signers.map((operator) => ({ operator, signature: '0x' })),
          signedWeightWei: BigInt(signers.length),
        }),
      ),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const { operators: after, statusChanges } = applyTaskAccounting(operators, events);
        for (const record of after) {
          const misses = events.filter(
            (e) => e.kind === 'operatorMissed' && e.operator === record.address,
          ).length;
          const successes = events.filter(
            (e) =>
              e.kind === 'completed' && e.signatures.some((s) => s.operator === record.address),
          ).length;
          expect(record.missing).toBe(misses);
          expect(record.successfulResponseCount).toBe(successes);
          expect(record.status).toBe(misses >= 5 ? 'suspended' : 'active');
        }
        expect(statusChanges).toHaveLength(
          after.filter((record) => record.status === 'suspended').length,
        );
      }),
    );
  });
});
