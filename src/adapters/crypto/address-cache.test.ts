import { createRequire } from 'node:module';
import type * as Secp256k1Library from 'secp256k1';
import { keccak256, toHex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { describe, expect, test } from 'vitest';
import { addressFromPublicKey } from '../../crypto/signature-encoding.ts';
import { createAddressCache } from './address-cache.ts';

const native = createRequire(import.meta.url)('secp256k1/bindings.js') as typeof Secp256k1Library;
const keys = Array.from({ length: 5 }, (_, i) => keccak256(toHex(`address-cache:${i}`)));
const publicKeyOf = (key: `0x${string}`) =>
  native.publicKeyCreate(Buffer.from(key.slice(2), 'hex'), false);

describe('createAddressCache', () => {
  test('behavior: returns the checksummed address of every key, cached or not', () => {
    const cache = createAddressCache({ maxEntries: 2 });
    for (let round = 0; round < 3; round++) {
      for (const key of keys) {
        // a fresh copy each time: the cache keys on the bytes, not the array
        expect(cache.addressOf(new Uint8Array(publicKeyOf(key)))).toBe(privateKeyToAddress(key));
      }
    }
  });

  test('behavior: stays within maxEntries, dropping the oldest', () => {
    const cache = createAddressCache({ maxEntries: 3 });
    for (const key of keys) cache.addressOf(publicKeyOf(key));
    expect(cache.size()).toBe(3);
  });

  test('behavior: keys on the bytes of a view, not on its whole buffer', () => {
    const cache = createAddressCache({ maxEntries: 8 });
    const [first, second] = [
      publicKeyOf(keys[0] as `0x${string}`),
      publicKeyOf(keys[1] as `0x${string}`),
    ];
    const shared = new Uint8Array(130);
    shared.set(first, 0);
    shared.set(second, 65);
    expect(cache.addressOf(shared.subarray(0, 65))).toBe(addressFromPublicKey(first));
    expect(cache.addressOf(shared.subarray(65))).toBe(addressFromPublicKey(second));
  });

  test('behavior: rejects a size that is not a whole number ≥ 1', () => {
    expect(() => createAddressCache({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => createAddressCache({ maxEntries: 1.5 })).toThrow(/maxEntries/);
  });
});
