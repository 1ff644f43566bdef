import { describe, expect, test } from 'vitest';
import { IllegalTransitionError } from './errors.ts';
import { OPERATOR_STATUSES, type OperatorStatus } from './operator-status.ts';
import {
  assertLegalTransition,
  isLegalTransition,
  type TransitionTrigger,
} from './operator-transitions.ts';
import { catchError } from './test-fixtures.ts';

const TRIGGERS: readonly TransitionTrigger[] = ['join', 'epochStart', 'suspend', 'adminUnsuspend'];

/**
 * The whole 5×5 table, written out independently of OPERATOR_TRANSITIONS: the trigger that makes
 * each change, or null when nothing may.
 */
const EXPECTED: Record<OperatorStatus, Record<OperatorStatus, TransitionTrigger | null>> = {
  waitingJoin: {
    waitingJoin: null,
    waitingActive: 'join',
    active: 'join',
    unactive: 'epochStart',
    suspended: 'suspend',
  },
  waitingActive: {
    waitingJoin: null,
    waitingActive: null,
    active: 'epochStart',
    unactive: 'epochStart',
    suspended: 'suspend',
  },
  active: {
    waitingJoin: null,
    waitingActive: null,
    active: null,
    unactive: 'epochStart',
    suspended: 'suspend',
  },
  unactive: {
    waitingJoin: null,
    waitingActive: null,
    active: null,
    unactive: null,
    suspended: 'suspend',
  },
  suspended: {
    waitingJoin: 'adminUnsuspend',
    waitingActive: 'adminUnsuspend',
    active: 'adminUnsuspend',
    unactive: 'adminUnsuspend',
    suspended: null,
  },
};

const PAIRS = OPERATOR_STATUSES.flatMap((from) =>
  OPERATOR_STATUSES.map((to) => ({ from, to, trigger: EXPECTED[from][to] })),
);

describe('every (from, to) pair', () => {
  test('behavior: the table covers all 25 pairs, 14 of them legal', () => {
    expect(PAIRS).toHaveLength(25);
    expect(PAIRS.filter((pair) => pair.trigger !== null)).toHaveLength(14);
  });

  test.each(PAIRS)('$from → $to (legal by: $trigger)', ({ from, to, trigger }) => {
    for (const candidate of TRIGGERS) {
      const legal = candidate === trigger;
      expect(isLegalTransition(from, to, candidate)).toBe(legal);
      if (legal) {
        expect(() => assertLegalTransition({ from, to, trigger: candidate })).not.toThrow();
      } else {
        const error = catchError(() => assertLegalTransition({ from, to, trigger: candidate }));
        expect(error).toBeInstanceOf(IllegalTransitionError);
        expect(error).toMatchObject({
          name: 'IllegalTransitionError',
          code: 'ILLEGAL_TRANSITION',
          from,
          to,
          trigger: candidate,
        });
      }
    }
    expect(isLegalTransition(from, to)).toBe(trigger !== null);
  });
});

describe('error text', () => {
  test('behavior: names the operator, the change and why', () => {
    const operator = '0x1000000000000000000000000000000000000001';
    expect(() =>
      assertLegalTransition({ from: 'active', to: 'waitingJoin', trigger: 'join', operator }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[IllegalTransitionError: operator 0x1000000000000000000000000000000000000001: illegal status transition active → waitingJoin (join): the lifecycle only moves forward: waitingJoin → waitingActive → active → unactive]`,
    );
    expect(() =>
      assertLegalTransition({ from: 'suspended', to: 'active', trigger: 'epochStart' }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[IllegalTransitionError: operator: illegal status transition suspended → active (epochStart): only an admin unsuspend lifts a suspension]`,
    );
    expect(() =>
      assertLegalTransition({ from: 'waitingActive', to: 'active', trigger: 'join' }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[IllegalTransitionError: operator: illegal status transition waitingActive → active (join): only epochStart makes this change, not join]`,
    );
  });
});
