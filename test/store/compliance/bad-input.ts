import type { Address, Hex } from 'viem';
import type { OperatorStatus } from '../../../src/core/operator-status.ts';
import type { TaskStatus } from '../../../src/core/task-status.ts';

/*
 * Each case passes one bad argument, typed the way a buggy or untyped caller would get it past
 * the compiler, and names the field the error must point at.
 */
export const MALFORMED_ADDRESS = '0x1234' as Address;
/** Mixed case with a wrong EIP-55 checksum. */
export const BAD_CHECKSUM_ADDRESS = '0x00000000000000000000000000000000000000aB' as Address;
export const UNKNOWN_OPERATOR_STATUS = 'retired' as OperatorStatus;
export const UNKNOWN_TASK_STATUS = 'done' as TaskStatus;
export const SHORT_HEX = '0x1234' as Hex;
export const SIGNATURE_WITH_V_ZERO = `0x${'11'.repeat(64)}00` as Hex;

export interface BadCall<S> {
  name: string;
  field: string;
  call: (store: S) => Promise<unknown>;
}
