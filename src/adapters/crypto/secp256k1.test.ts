import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { arbitraryDigest, arbitraryPrivateKey } from '../../core/test-fixtures.ts';
import { createNativeSecp256k1 } from './native-secp256k1.ts';
import { createNobleSecp256k1 } from './noble-secp256k1.ts';
import { describeSecp256k1Compliance, highSTwin } from './secp256k1-compliance.ts';

describeSecp256k1Compliance('native (libsecp256k1)', createNativeSecp256k1);
describeSecp256k1Compliance('noble (@noble/curves)', createNobleSecp256k1);

describe('native and noble agree', () => {
  const native = createNativeSecp256k1();
  const noble = createNobleSecp256k1();

  test('property: same signature, same recovered address, for random keys and digests', () => {
    fc.assert(
      fc.property(arbitraryPrivateKey, arbitraryDigest, (privateKey, digest) => {
        const signature = native.sign(digest, privateKey);
        expect(noble.sign(digest, privateKey)).toBe(signature);
        expect(noble.recoverAddress(digest, signature)).toBe(
          native.recoverAddress(digest, signature),
        );
        expect(noble.addressOf(privateKey)).toBe(native.addressOf(privateKey));
        // and reject the same malleable twin the same way
        expect(() => noble.recoverAddress(digest, highSTwin(signature))).toThrow();
        expect(() => native.recoverAddress(digest, highSTwin(signature))).toThrow();
      }),
      { numRuns: 200 },
    );
  });

  test('behavior: the implementations say which they are', () => {
    expect([native.implementation, noble.implementation]).toEqual(['native', 'noble']);
  });
});
