import { getAddress, keccak256, toHex } from 'viem';
import { describe, expect, test } from 'vitest';
import { checksumAddressOf } from './address.ts';

const lowercaseAddress = (n: number) => keccak256(toHex(`address ${n}`)).slice(0, 42);

describe('checksumAddressOf', () => {
  test('behavior: gives what getAddress gives, first time and cached, past the cache bound too', () => {
    for (let n = 0; n < 12_000; n++) {
      const hex = lowercaseAddress(n);
      expect(checksumAddressOf(hex)).toBe(getAddress(hex));
    }
    for (const n of [0, 1, 11_999]) {
      expect(checksumAddressOf(lowercaseAddress(n))).toBe(getAddress(lowercaseAddress(n)));
    }
  });

  test('behavior: a value that is not an address throws, and is not remembered', () => {
    expect(() => checksumAddressOf('0x1234')).toThrow();
    expect(() => checksumAddressOf('0x1234')).toThrow();
  });
});
