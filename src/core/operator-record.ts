import type { Address } from 'viem';
import type { OperatorStatus } from './operator-status.ts';

/** Any status except `suspended`: what an operator can be suspended from. */
export type UnsuspendedStatus = Exclude<OperatorStatus, 'suspended'>;

/**
 * What the core needs to know about an operator (a row of the registry's `operators` table; the
 * store may keep more columns: functions over records are generic and carry extra fields through).
 * Nullable columns are `null`, as in the database.
 */
export interface OperatorRecord {
  readonly address: Address;
  /** The signing key at the last applied epoch. */
  readonly signingKey: Address;
  readonly status: OperatorStatus;
  /** `getEffectiveEpochForBlock(registration block)`. */
  readonly activeEpoch: number;
  /** `getEffectiveEpochForBlock(deregistration block)`; null while registered. */
  readonly exitEpoch: number | null;
  /** The registry weight at the last applied epoch. */
  readonly weightWei: bigint;
  /** Selected for a task but neither signed nor refused in time (or signed invalidly). */
  readonly missing: number;
  /** Tasks whose returned proof included this operator's signature. */
  readonly successfulResponseCount: number;
  /**
   * Set while suspended: the status it was suspended from, so that an admin unsuspend knows
   * whether the operator had joined the network. Null otherwise.
   */
  readonly statusBeforeSuspension: UnsuspendedStatus | null;
}
