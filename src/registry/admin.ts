import type { Address } from 'viem';
import { MISSES_BEFORE_SUSPENSION } from '../core/operator-counters.ts';
import { unsuspendOperator as unsuspendRecord } from '../core/operator-lifecycle.ts';
import type { OperatorStatusChange } from '../core/operator-transitions.ts';
import type { OperatorRecord } from '../store/registry/operators.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { UnknownOperatorError } from './errors.ts';

export interface UnsuspendResult {
  operator: OperatorRecord;
  change: OperatorStatusChange;
}

/**
 * The admin action that lifts a suspension (SPEC §3: the only way out of `suspended`). The
 * operator returns to the status `currentEpoch` implies for the status it was suspended from (the
 * core's `unsuspendOperator`), its `missing` counter restarts at 0, and the change is recorded in
 * `registry_events` (`operatorUnsuspended`), all in one transaction. An operator that is not
 * suspended is refused with the core's IllegalTransitionError; an unknown one with
 * UnknownOperatorError.
 */
export async function unsuspendOperator(
  store: RegistryStore,
  operator: Address,
  currentEpoch: number,
): Promise<UnsuspendResult> {
  return store.transaction(async (tx) => {
    const record = await tx.operators.get(operator);
    if (record === undefined) throw new UnknownOperatorError(operator, 'unsuspendOperator');
    const lifted = unsuspendRecord(record, currentEpoch);
    // Only epoch-start steps may change nothing; a legal unsuspend always leaves `suspended`.
    const change = lifted.change as OperatorStatusChange;
    const updated = await tx.operators.update(
      record.address,
      {
        status: lifted.operator.status,
        statusBeforeSuspension: null,
        missing: lifted.operator.missing,
      },
      { expectedStatus: 'suspended' },
    );
    // Replicated as a fact: it clears the misses this registry knows of; another registry
    // derives the same `missing` and lifts the suspension when it merges it.
    const missesCleared = (await tx.operatorFacts.totals(record.address)).misses;
    await tx.operatorFacts.merge(
      [{ kind: 'unsuspended', operator: record.address, missesCleared }],
      { suspendAtMisses: MISSES_BEFORE_SUSPENSION },
    );
    await tx.registryEvents.record({
      eventType: 'operatorUnsuspended',
      operatorAddress: record.address,
      data: { from: change.from, to: change.to, currentEpoch },
    });
    return { operator: updated, change };
  });
}
