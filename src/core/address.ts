import { type Address, getAddress, isAddress } from 'viem';
import { InvalidAddressError } from './errors.ts';

/**
 * Addresses are compared as 160-bit numbers, which is how the registry's `isValidSignature`
 * checks order (`uint160(operator) <= uint160(previous)` reverts NotSorted). Comparing checksummed
 * strings would put `0xB…` before `0xa…`.
 */
export function compareAddresses(a: Address, b: Address): number {
  const left = BigInt(a);
  const right = BigInt(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** A case-insensitive key for maps and sets of addresses. */
export function addressKey(address: Address): string {
  return address.toLowerCase();
}

/** Validates (rejecting a wrong mixed-case checksum) and returns the checksummed form. */
export function toChecksumAddress(field: string, value: string): Address {
  if (!isAddress(value)) throw new InvalidAddressError(field, value);
  return getAddress(value);
}

const CHECKSUM_CACHE_LIMIT = 10_000;
const checksums = new Map<string, Address>();

/**
 * `getAddress(hex)`, remembered: nodes decode the same few hundred addresses from messages and rows
 * over and over, and each checksum is a keccak hash (viem's own caches refresh an LRU on every hit
 * and test a regex first, which showed in the simulator's profiles). For values already known to
 * be addresses (20 wire bytes as hex, a stored lowercase address); anything else throws as
 * `getAddress` does. A plain map, emptied when it reaches its bound.
 */
export function checksumAddressOf(hex: string): Address {
  const cached = checksums.get(hex);
  if (cached !== undefined) return cached;
  const checksummed = getAddress(hex);
  if (checksums.size >= CHECKSUM_CACHE_LIMIT) checksums.clear();
  checksums.set(hex, checksummed);
  return checksummed;
}
