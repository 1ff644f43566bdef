import type { Address } from 'viem';
import { IllegalTransitionError } from './errors.ts';
import type { OperatorStatus } from './operator-status.ts';

/**
 * The operator lifecycle as data: `waitingJoin → waitingActive → active → unactive` (never back),
 * any status but `suspended` → `suspended`, and out of `suspended` only by an admin unsuspend.
 * Everything not listed here is rejected with IllegalTransitionError.
 */

/** What drives a status change. */
export type TransitionTrigger =
  /** The operator's JoinNetwork request was accepted. */
  | 'join'
  /** The epoch-start rules (activeEpoch / exitEpoch reached). */
  | 'epochStart'
  /** Too many missed responses. */
  | 'suspend'
  /** An explicit admin action; the only way out of `suspended`. */
  | 'adminUnsuspend';

export interface OperatorTransition {
  readonly from: OperatorStatus;
  readonly to: OperatorStatus;
  readonly trigger: TransitionTrigger;
}

export const OPERATOR_TRANSITIONS: readonly OperatorTransition[] = [
  // join: before activeEpoch → waitingActive; at or after → active
  { from: 'waitingJoin', to: 'waitingActive', trigger: 'join' },
  { from: 'waitingJoin', to: 'active', trigger: 'join' },
  // epoch start: activeEpoch reached; exitEpoch reached (also before the operator ever worked)
  { from: 'waitingActive', to: 'active', trigger: 'epochStart' },
  { from: 'waitingJoin', to: 'unactive', trigger: 'epochStart' },
  { from: 'waitingActive', to: 'unactive', trigger: 'epochStart' },
  { from: 'active', to: 'unactive', trigger: 'epochStart' },
  // suspension, from any status but suspended
  { from: 'waitingJoin', to: 'suspended', trigger: 'suspend' },
  { from: 'waitingActive', to: 'suspended', trigger: 'suspend' },
  { from: 'active', to: 'suspended', trigger: 'suspend' },
  { from: 'unactive', to: 'suspended', trigger: 'suspend' },
  // admin unsuspend, back to the status the current epoch implies
  { from: 'suspended', to: 'waitingJoin', trigger: 'adminUnsuspend' },
  { from: 'suspended', to: 'waitingActive', trigger: 'adminUnsuspend' },
  { from: 'suspended', to: 'active', trigger: 'adminUnsuspend' },
  { from: 'suspended', to: 'unactive', trigger: 'adminUnsuspend' },
];

/** A status change as it is logged and traced. */
export interface OperatorStatusChange {
  readonly operator: Address;
  readonly from: OperatorStatus;
  readonly to: OperatorStatus;
  readonly trigger: TransitionTrigger;
}

/** Whether `from → to` is legal, by `trigger` when given, else by any trigger. */
export function isLegalTransition(
  from: OperatorStatus,
  to: OperatorStatus,
  trigger?: TransitionTrigger,
): boolean {
  return OPERATOR_TRANSITIONS.some(
    (transition) =>
      transition.from === from &&
      transition.to === to &&
      (trigger === undefined || transition.trigger === trigger),
  );
}

/** Throws IllegalTransitionError unless `trigger` may move an operator `from → to`. */
export function assertLegalTransition(args: {
  from: OperatorStatus;
  to: OperatorStatus;
  trigger: TransitionTrigger;
  operator?: Address | undefined;
}): void {
  if (isLegalTransition(args.from, args.to, args.trigger)) return;
  throw new IllegalTransitionError({
    ...args,
    reason: whyIllegal(args.from, args.to, args.trigger),
  });
}

function whyIllegal(from: OperatorStatus, to: OperatorStatus, trigger: TransitionTrigger): string {
  if (from === to) return 'the operator already has this status';
  if (from === 'suspended') return 'only an admin unsuspend lifts a suspension';
  if (to === 'suspended') return 'suspension is its own trigger';
  const legalTriggers = OPERATOR_TRANSITIONS.filter((t) => t.from === from && t.to === to);
  if (legalTriggers.length > 0) {
    return `only ${legalTriggers.map((t) => t.trigger).join(' or ')} makes this change, not ${trigger}`;
  }
  return 'the lifecycle only moves forward: waitingJoin → waitingActive → active → unactive';
}
