import { describe, expect, test } from 'vitest';
import type { EpochParams } from './epoch-math.ts';
import { IllegalTransitionError } from './errors.ts';
import {
  applyDeregistration,
  applyEpochStart,
  joinNetwork,
  operatorFromRegistration,
  statusAfterJoin,
  suspendOperator,
  unsuspendOperator,
} from './operator-lifecycle.ts';
import { OPERATOR_STATUSES } from './operator-status.ts';
import { catchError, operatorRecord } from './test-fixtures.ts';

const params: EpochParams = { genesisBlock: 100n, epochLengthBlocks: 12n, gracePeriodBlocks: 3n };

describe('registration and deregistration', () => {
  test('behavior: a registered operator waits to join, active from the effective epoch', () => {
    const registration = {
      operator: '0x1000000000000000000000000000000000000001',
      signingKey: '0x2000000000000000000000000000000000000002',
    } as const;
    expect(operatorFromRegistration({ ...registration, blockNumber: 108n }, params)).toEqual({
      address: registration.operator,
      signingKey: registration.signingKey,
      status: 'waitingJoin',
      activeEpoch: 1,
      exitEpoch: null,
      weightWei: 0n,
      missing: 0,
      successfulResponseCount: 0,
      statusBeforeSuspension: null,
    });
    // inside the grace period the change lands one epoch later
    expect(
      operatorFromRegistration({ ...registration, blockNumber: 109n }, params).activeEpoch,
    ).toBe(2);
  });

  test('behavior: deregistration sets exitEpoch = effectiveEpochForBlock(block), status unchanged', () => {
    const active = operatorRecord({ status: 'active' });
    expect(applyDeregistration(active, 113n, params)).toEqual({ ...active, exitEpoch: 2 });
    expect(applyDeregistration(active, 123n, params)).toEqual({ ...active, exitEpoch: 3 });
  });
});

describe('join rule', () => {
  test.each([
    [0, 2, 'waitingActive'],
    [1, 2, 'waitingActive'],
    [2, 2, 'active'],
    [3, 2, 'active'],
  ] as const)(
    'behavior: join at epoch %s with activeEpoch %s → %s',
    (currentEpoch, activeEpoch, expected) => {
      expect(statusAfterJoin(currentEpoch, activeEpoch)).toBe(expected);
      const { operator, change } = joinNetwork(
        operatorRecord({ status: 'waitingJoin', activeEpoch }),
        currentEpoch,
      );
      expect(operator.status).toBe(expected);
      expect(change).toEqual({
        operator: operator.address,
        from: 'waitingJoin',
        to: expected,
        trigger: 'join',
      });
    },
  );

  test.each(OPERATOR_STATUSES.filter((status) => status !== 'waitingJoin'))(
    'behavior: a %s operator cannot join again',
    (status) => {
      const error = catchError(() => joinNetwork(operatorRecord({ status }), 5));
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(error).toMatchObject({ from: status, trigger: 'join' });
    },
  );

  test('behavior: an operator cannot join once its exit epoch is reached', () => {
    const deregistered = operatorRecord({ status: 'waitingJoin', activeEpoch: 2, exitEpoch: 4 });
    expect(joinNetwork(deregistered, 3).operator.status).toBe('active');
    expect(() => joinNetwork(deregistered, 4)).toThrow(IllegalTransitionError);
  });
});

describe('epoch start', () => {
  test('behavior: waitingActive becomes active at its active epoch, not before', () => {
    const waiting = operatorRecord({ status: 'waitingActive', activeEpoch: 3 });
    expect(applyEpochStart(waiting, 2)).toEqual({ operator: waiting, change: null });
    expect(applyEpochStart(waiting, 3).operator.status).toBe('active');
    expect(applyEpochStart(waiting, 5).operator.status).toBe('active'); // catching up
  });

  test('behavior: waitingJoin, waitingActive and active leave at the exit epoch', () => {
    for (const status of ['waitingJoin', 'waitingActive', 'active'] as const) {
      const leaving = operatorRecord({ status, activeEpoch: 2, exitEpoch: 4 });
      expect(applyEpochStart(leaving, 3).operator.status).toBe(
        status === 'waitingActive' ? 'active' : status,
      );
      expect(applyEpochStart(leaving, 4).change).toEqual({
        operator: leaving.address,
        from: status,
        to: 'unactive',
        trigger: 'epochStart',
      });
    }
  });

  test('behavior: exit wins over activation in the same epoch', () => {
    const both = operatorRecord({ status: 'waitingActive', activeEpoch: 3, exitEpoch: 3 });
    expect(applyEpochStart(both, 3).operator.status).toBe('unactive');
  });

  test('behavior: suspended and unactive operators are left alone', () => {
    for (const status of ['suspended', 'unactive'] as const) {
      const record = operatorRecord({
        status,
        activeEpoch: 1,
        exitEpoch: 2,
        statusBeforeSuspension: 'active',
      });
      expect(applyEpochStart(record, 9)).toEqual({ operator: record, change: null });
    }
  });
});

describe('suspension', () => {
  test('behavior: suspending remembers the previous status; suspending twice is illegal', () => {
    const { operator, change } = suspendOperator(operatorRecord({ status: 'active', missing: 5 }));
    expect(operator).toMatchObject({
      status: 'suspended',
      statusBeforeSuspension: 'active',
      missing: 5,
    });
    expect(change).toMatchObject({ from: 'active', to: 'suspended', trigger: 'suspend' });
    expect(() => suspendOperator(operator)).toThrow(IllegalTransitionError);
  });

  test.each([
    // suspended from, activeEpoch, exitEpoch, current epoch, back to
    ['active', 1, null, 5, 'active'],
    ['active', 1, 4, 5, 'unactive'],
    ['waitingActive', 6, null, 5, 'waitingActive'],
    ['waitingActive', 3, null, 5, 'active'],
    ['waitingJoin', 3, null, 5, 'waitingJoin'],
    ['waitingJoin', 3, 5, 5, 'unactive'],
    ['unactive', 1, 2, 5, 'unactive'],
  ] as const)(
    'behavior: unsuspending an operator suspended from %s (active %s, exit %s) at epoch %s → %s',
    (from, activeEpoch, exitEpoch, epoch, expected) => {
      const suspended = suspendOperator(
        operatorRecord({ status: from, activeEpoch, exitEpoch, missing: 5 }),
      ).operator;
      const { operator, change } = unsuspendOperator(suspended, epoch);
      expect(operator).toMatchObject({
        status: expected,
        missing: 0,
        statusBeforeSuspension: null,
      });
      expect(change).toMatchObject({ from: 'suspended', to: expected, trigger: 'adminUnsuspend' });
    },
  );

  test('behavior: only a suspended operator can be unsuspended', () => {
    expect(() => unsuspendOperator(operatorRecord({ status: 'active' }), 5)).toThrow(
      IllegalTransitionError,
    );
  });
});
