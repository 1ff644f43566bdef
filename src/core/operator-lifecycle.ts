import type { Address } from 'viem';
import { type EpochParams, effectiveEpochForBlock } from './epoch-math.ts';
import { IllegalTransitionError } from './errors.ts';
import type { OperatorRecord, UnsuspendedStatus } from './operator-record.ts';
import type { OperatorStatus } from './operator-status.ts';
import {
  assertLegalTransition,
  type OperatorStatusChange,
  type TransitionTrigger,
} from './operator-transitions.ts';

/**
 * The operator lifecycle operations of SPEC §3 as pure functions over records. Each returns the
 * new record and the status change it made (null when the status is unchanged), so the caller can
 * persist both and the simulator can trace the change.
 */
export interface OperatorUpdate<T extends OperatorRecord> {
  readonly operator: T;
  readonly change: OperatorStatusChange | null;
}

/** An `OperatorRegistered` event, as far as the lifecycle is concerned. */
export interface OperatorRegistration {
  operator: Address;
  signingKey: Address;
  blockNumber: bigint;
}

/**
 * A freshly registered operator: `waitingJoin`, active from the effective epoch of its
 * registration block. Weight stays 0 until the first epoch advance reads it from the registry.
 */
export function operatorFromRegistration(
  registration: OperatorRegistration,
  params: EpochParams,
): OperatorRecord {
  return {
    address: registration.operator,
    signingKey: registration.signingKey,
    status: 'waitingJoin',
    activeEpoch: effectiveEpochForBlock(params, registration.blockNumber),
    exitEpoch: null,
    weightWei: 0n,
    missing: 0,
    successfulResponseCount: 0,
    statusBeforeSuspension: null,
  };
}

/**
 * An `OperatorDeregistered` event sets the exit epoch; the status changes at that epoch's start
 * (the registry's weight of the operator drops to 0 at the same effective epoch).
 */
export function applyDeregistration<T extends OperatorRecord>(
  record: T,
  blockNumber: bigint,
  params: EpochParams,
): T {
  return { ...record, exitEpoch: effectiveEpochForBlock(params, blockNumber) };
}

/** The join rule: before the active epoch the operator waits for it, at or after it works. */
export function statusAfterJoin(
  currentEpoch: number,
  activeEpoch: number,
): 'waitingActive' | 'active' {
  return currentEpoch < activeEpoch ? 'waitingActive' : 'active';
}

/** A JoinNetwork request accepted at `currentEpoch` (only from `waitingJoin`, before the exit). */
export function joinNetwork<T extends OperatorRecord>(
  record: T,
  currentEpoch: number,
): OperatorUpdate<T> {
  const to = statusAfterJoin(currentEpoch, record.activeEpoch);
  if (record.exitEpoch !== null && record.exitEpoch <= currentEpoch) {
    throw new IllegalTransitionError({
      from: record.status,
      to,
      trigger: 'join',
      operator: record.address,
      reason: `the operator deregistered: its exit epoch ${record.exitEpoch} has been reached`,
    });
  }
  return changeStatus(record, to, 'join');
}

/**
 * The epoch-start rules for one status: `exitEpoch ≤ epoch` → unactive; `waitingActive` with
 * `activeEpoch ≤ epoch` → active. "≤" rather than "==" so that catching up over skipped epochs
 * lands where stepping would. Suspended and unactive operators are left alone.
 */
export function statusAtEpochStart(
  status: OperatorStatus,
  epochs: { activeEpoch: number; exitEpoch: number | null },
  epoch: number,
): OperatorStatus {
  if (status === 'suspended' || status === 'unactive') return status;
  if (epochs.exitEpoch !== null && epochs.exitEpoch <= epoch) return 'unactive';
  if (status === 'waitingActive' && epochs.activeEpoch <= epoch) return 'active';
  return status;
}

export function applyEpochStart<T extends OperatorRecord>(
  record: T,
  epoch: number,
): OperatorUpdate<T> {
  return changeStatus(record, statusAtEpochStart(record.status, record, epoch), 'epochStart');
}

/** Suspends an operator (from any status but suspended), remembering where it came from. */
export function suspendOperator<T extends OperatorRecord>(record: T): OperatorUpdate<T> {
  const update = changeStatus(record, 'suspended', 'suspend');
  // changeStatus has asserted that `record.status` is not `suspended`.
  return {
    ...update,
    operator: { ...update.operator, statusBeforeSuspension: record.status as UnsuspendedStatus },
  };
}

/**
 * The admin action that lifts a suspension. The operator returns to the status the current epoch
 * implies for the status it was suspended from (a waitingActive operator whose active epoch has
 * passed comes back active; one whose exit epoch has passed comes back unactive), and its
 * `missing` counter restarts at 0, or the next miss would suspend it again at once.
 */
export function unsuspendOperator<T extends OperatorRecord>(
  record: T,
  currentEpoch: number,
): OperatorUpdate<T> {
  // Misses, the only reason for suspension, accrue only to operators selected for tasks, which
  // are active: without a record of the previous status, `active` is the right assumption.
  const suspendedFrom: UnsuspendedStatus = record.statusBeforeSuspension ?? 'active';
  const to = statusAtEpochStart(suspendedFrom, record, currentEpoch);
  const update = changeStatus(record, to, 'adminUnsuspend');
  return {
    ...update,
    operator: { ...update.operator, missing: 0, statusBeforeSuspension: null },
  };
}

function changeStatus<T extends OperatorRecord>(
  record: T,
  to: OperatorStatus,
  trigger: TransitionTrigger,
): OperatorUpdate<T> {
  if (trigger === 'epochStart' && to === record.status) return { operator: record, change: null };
  assertLegalTransition({ from: record.status, to, trigger, operator: record.address });
  return {
    operator: { ...record, status: to },
    change: { operator: record.address, from: record.status, to, trigger },
  };
}
