import { FieldOutOfRangeError } from './errors.ts';

/** The unsigned Solidity widths the protocol encodes. */
export type UintType = 'uint32' | 'uint48' | 'uint64' | 'uint160' | 'uint256';

const UINT_BITS: Record<UintType, bigint> = {
  uint32: 32n,
  uint48: 48n,
  uint64: 64n,
  uint160: 160n,
  uint256: 256n,
};

export function maxUint(type: UintType): bigint {
  return (1n << UINT_BITS[type]) - 1n;
}

/**
 * Returns `value` as a bigint when it fits `type`, else throws FieldOutOfRangeError naming
 * `field`. Numbers must be safe integers: 2^53 + 1 as a number has already lost its last bit.
 */
export function toUint(field: string, value: bigint | number, type: UintType): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new FieldOutOfRangeError(field, value, type);
  }
  const asBigInt = BigInt(value);
  if (asBigInt < 0n || asBigInt > maxUint(type)) {
    throw new FieldOutOfRangeError(field, value, type);
  }
  return asBigInt;
}

/** Epoch numbers are uint32 on chain and plain numbers in node code. */
export function toEpochNumber(field: string, value: bigint | number): number {
  return Number(toUint(field, value, 'uint32'));
}
