import type { Address } from 'viem';
import { addressKey } from './address.ts';
import { type OperatorUpdate, suspendOperator } from './operator-lifecycle.ts';
import type { OperatorRecord } from './operator-record.ts';
import type { OperatorStatusChange } from './operator-transitions.ts';
import type { TaskEvent } from './task-round.ts';

/** An operator is suspended when its `missing` counter reaches this many misses. */
export const MISSES_BEFORE_SUSPENSION = 5;

/**
 * `missing += 1`; reaching `missesBeforeSuspension` suspends the operator. An operator that is
 * already suspended keeps counting (the counter must equal the trace) but stays suspended.
 */
export function recordMissedResponse<T extends OperatorRecord>(
  record: T,
  missesBeforeSuspension: number = MISSES_BEFORE_SUSPENSION,
): OperatorUpdate<T> {
  const counted = { ...record, missing: record.missing + 1 };
  if (counted.status === 'suspended' || counted.missing < missesBeforeSuspension) {
    return { operator: counted, change: null };
  }
  return suspendOperator(counted);
}

/** `successfulResponseCount += 1` for an operator whose signature is in a completed proof. */
export function recordSuccessfulResponse<T extends OperatorRecord>(record: T): T {
  return { ...record, successfulResponseCount: record.successfulResponseCount + 1 };
}

/**
 * Applies a task's accounting events to the operator records: every `operatorMissed` is a miss,
 * every signer in `completed` a successful response. Operators the events do not name, and
 * events about operators not in `records`, are left alone.
 */
export function applyTaskAccounting<T extends OperatorRecord>(
  records: readonly T[],
  events: readonly TaskEvent[],
  missesBeforeSuspension: number = MISSES_BEFORE_SUSPENSION,
): { operators: T[]; statusChanges: OperatorStatusChange[] } {
  const byKey = new Map(records.map((record) => [addressKey(record.address), record]));
  const statusChanges: OperatorStatusChange[] = [];
  const update = (operator: Address, apply: (record: T) => T): void => {
    const record = byKey.get(addressKey(operator));
    if (record !== undefined) byKey.set(addressKey(operator), apply(record));
  };
  for (const event of events) {
    if (event.kind === 'operatorMissed') {
      update(event.operator, (record) => {
        const { operator, change } = recordMissedResponse(record, missesBeforeSuspension);
        if (change !== null) statusChanges.push(change);
        return operator;
      });
    } else if (event.kind === 'completed') {
      for (const { operator } of event.signatures) update(operator, recordSuccessfulResponse);
    }
  }
  return {
    operators: records.map((record) => byKey.get(addressKey(record.address)) ?? record),
    statusChanges,
  };
}
