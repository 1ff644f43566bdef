import type { Address, Hex } from 'viem';
import { isOperatorStatus, type OperatorStatus } from '../core/operator-status.ts';
import { isTaskStatus, type TaskStatus } from '../core/task-status.ts';
import { toChecksumAddress } from './validate.ts';

/**
 * Conversions from stored column values to what repositories return. CHECK constraints make the
 * failures here unreachable short of someone editing rows by hand; they throw rather than let a
 * wrong type through.
 */

export function storedAddress(value: string): Address {
  return toChecksumAddress(value);
}

export function storedHex(value: string): Hex {
  if (!value.startsWith('0x')) throw new TypeError(`stored hex value ${value} lacks 0x`);
  return value as Hex;
}

export function storedOperatorStatus(value: string): OperatorStatus {
  if (!isOperatorStatus(value)) throw new TypeError(`stored operator status ${value} is unknown`);
  return value;
}

export function storedTaskStatus(value: string): TaskStatus {
  if (!isTaskStatus(value)) throw new TypeError(`stored task status ${value} is unknown`);
  return value;
}

export function storedOneOf<T extends string>(value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`stored value ${value} is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** TIMESTAMPTZ → milliseconds since the Unix epoch, the unit the Clock port uses. */
export function storedMs(value: Date): number {
  return value.getTime();
}

export function msAsDate(ms: number): Date {
  return new Date(ms);
}
