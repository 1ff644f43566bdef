import fc from 'fast-check';
import { type Address, bytesToHex, getAddress, type Hex } from 'viem';
import type { EpochOperator } from './epoch-state.ts';
import type { OperatorRecord } from './operator-record.ts';

/** Shared test data for the core's tests (imported by tests only). */

export function operatorRecord(overrides: Partial<OperatorRecord> = {}): OperatorRecord {
  return {
    address: '0x1000000000000000000000000000000000000001',
    signingKey: '0x2000000000000000000000000000000000000002',
    status: 'active',
    activeEpoch: 1,
    exitEpoch: null,
    weightWei: 100n,
    missing: 0,
    successfulResponseCount: 0,
    statusBeforeSuspension: null,
    ...overrides,
  };
}

/** An address with a given leading byte, e.g. addressWithPrefix(0xa0, 1). */
export function addressWithPrefix(leadingByte: number, tail: number): Address {
  const hex = `${leadingByte.toString(16).padStart(2, '0')}${tail.toString(16).padStart(38, '0')}`;
  return getAddress(`0x${hex}`);
}

export const arbitraryAddress: fc.Arbitrary<Address> = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((bytes) => getAddress(bytesToHex(bytes)));

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export const arbitraryPrivateKey: fc.Arbitrary<Hex> = fc
  .bigInt(1n, SECP256K1_N - 1n)
  .map((scalar) => `0x${scalar.toString(16).padStart(64, '0')}` as Hex);

export const arbitraryDigest: fc.Arbitrary<Hex> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => bytesToHex(bytes));

/** Deterministic private key number `index` (1-based) for fixed scenarios. */
export function privateKeyNumber(index: number): Hex {
  return `0x${(0x1000n + BigInt(index)).toString(16).padStart(64, '0')}` as Hex;
}

export function epochOperator(
  operator: Address,
  weightWei: bigint,
  signingKey?: Address,
): EpochOperator {
  return { operator, weightWei, signingKey: signingKey ?? operator };
}

/** Runs `run` and returns what it threw (fails the test when it does not throw). */
export function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but nothing was thrown');
}

/**
 * Two checksummed addresses whose string order is the reverse of their numeric order:
 * 0xa0…04 < 0xB0…04 as numbers, but "B" (0x42) sorts before "a" (0x61) as text.
 */
export const LOWER_BY_NUMBER: Address = '0xa000000000000000000000000000000000000004';
export const HIGHER_BY_NUMBER: Address = '0xB000000000000000000000000000000000000004';
