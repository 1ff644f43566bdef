import fc from 'fast-check';
import { type Hex, recoverAddress as viemRecoverAddress } from 'viem';
import { privateKeyToAddress, sign as viemSign } from 'viem/accounts';
import { describe, expect, test } from 'vitest';
import { arbitraryDigest, arbitraryPrivateKey, catchError } from '../../core/test-fixtures.ts';
import {
  InvalidDigestError,
  InvalidPrivateKeyError,
  SignatureFormatError,
  SignatureRecoveryError,
} from '../../crypto/errors.ts';
import type { Secp256k1 } from '../../crypto/secp256k1.ts';
import { SECP256K1_HALF_N, SECP256K1_N } from '../../crypto/signature-encoding.ts';

/**
 * The one compliance suite every Secp256k1 implementation passes (run by secp256k1.test.ts
 * against each). The reference is viem's own signer, which is what users and the contract tests
 * use: same signatures byte for byte, same recovered addresses, same rejections.
 */
export function describeSecp256k1Compliance(name: string, create: () => Secp256k1): void {
  describe(`Secp256k1 compliance: ${name}`, () => {
    const secp = create();

    test('property: signatures equal viem’s (RFC 6979, low s, v = 27/28) and recover to the signer', async () => {
      await fc.assert(
        fc.asyncProperty(arbitraryPrivateKey, arbitraryDigest, async (privateKey, digest) => {
          const signature = secp.sign(digest, privateKey);
          expect(signature).toBe(await viemSign({ hash: digest, privateKey, to: 'hex' }));
          expect(signature).toHaveLength(2 + 65 * 2);
          expect([27, 28]).toContain(Number.parseInt(signature.slice(-2), 16));
          expect(BigInt(`0x${signature.slice(66, 130)}`) <= SECP256K1_HALF_N).toBe(true);
          const signer = privateKeyToAddress(privateKey);
          expect(secp.recoverAddress(digest, signature)).toBe(signer);
          expect(secp.addressOf(privateKey)).toBe(signer);
          expect(await viemRecoverAddress({ hash: digest, signature })).toBe(signer);
        }),
        { numRuns: 100 },
      );
    });

    test('property: a different digest recovers to a different address, without throwing', () => {
      fc.assert(
        fc.property(
          arbitraryPrivateKey,
          arbitraryDigest,
          arbitraryDigest,
          (privateKey, digest, other) => {
            fc.pre(digest !== other);
            const signature = secp.sign(digest, privateKey);
            let recovered: string | undefined;
            try {
              recovered = secp.recoverAddress(other, signature);
            } catch (error) {
              // r always lies on the curve here, but recovery can still hit the point at infinity
              expect(error).toBeInstanceOf(SignatureRecoveryError);
            }
            expect(recovered).not.toBe(privateKeyToAddress(privateKey));
          },
        ),
        { numRuns: 50 },
      );
    });

    test('property: rejects the high-s twin of every valid signature', () => {
      fc.assert(
        fc.property(arbitraryPrivateKey, arbitraryDigest, (privateKey, digest) => {
          const signature = secp.sign(digest, privateKey);
          const expectHighS = (run: () => unknown) => {
            const error = catchError(run);
            expect(error).toBeInstanceOf(SignatureFormatError);
            expect(error).toMatchObject({ code: 'INVALID_SIGNATURE_FORMAT', problem: 'highS' });
          };
          expectHighS(() => secp.recoverAddress(digest, highSTwin(signature)));
        }),
        { numRuns: 50 },
      );
    });

    const privateKey = `0x${'11'.repeat(32)}` as Hex;
    const digest = `0x${'ab'.repeat(32)}` as Hex;
    const valid = secp.sign(digest, privateKey);

    test.each([0, 1, 26, 29, 255])('behavior: rejects v = %s (only 27 and 28)', (v) => {
      const signature = `${valid.slice(0, -2)}${v.toString(16).padStart(2, '0')}` as Hex;
      expect(catchError(() => secp.recoverAddress(digest, signature))).toMatchObject({
        code: 'INVALID_SIGNATURE_FORMAT',
        problem: 'recoveryByte',
      });
    });

    test.each([
      ['64 bytes', valid.slice(0, -2)],
      ['66 bytes', `${valid}00`],
      ['an odd number of hex digits', `${valid}0`],
      ['no 0x prefix', valid.slice(2)],
      ['non-hex characters', `${valid.slice(0, -2)}zz`],
      ['empty', '0x'],
    ])('behavior: rejects a signature of %s', (_label, signature) => {
      expect(catchError(() => secp.recoverAddress(digest, signature as Hex))).toMatchObject({
        code: 'INVALID_SIGNATURE_FORMAT',
        problem: 'length',
      });
    });

    test('behavior: rejects r or s of 0 or ≥ n', () => {
      const withScalars = (r: bigint, s: bigint) =>
        `0x${r.toString(16).padStart(64, '0')}${s.toString(16).padStart(64, '0')}1b` as Hex;
      for (const [r, s] of [
        [0n, 1n],
        [1n, 0n],
        [SECP256K1_N, 1n],
      ] as const) {
        expect(catchError(() => secp.recoverAddress(digest, withScalars(r, s)))).toMatchObject({
          problem: 'scalarOutOfRange',
        });
      }
    });

    test('behavior: an r that is no curve point’s x recovers nothing', () => {
      const signature = `0x${5n.toString(16).padStart(64, '0')}${'00'.repeat(31)}011b` as Hex;
      expect(() => secp.recoverAddress(digest, signature)).toThrow(SignatureRecoveryError);
    });

    test('behavior: rejects digests that are not 32 bytes', () => {
      for (const bad of [digest.slice(0, -2), `${digest}00`, 'ab'.repeat(32)]) {
        expect(() => secp.sign(bad as Hex, privateKey)).toThrow(InvalidDigestError);
        expect(() => secp.recoverAddress(bad as Hex, valid)).toThrow(InvalidDigestError);
      }
    });

    test('behavior: rejects private keys of 0, ≥ n, or not 32 bytes', () => {
      for (const bad of [
        `0x${'00'.repeat(32)}`,
        `0x${SECP256K1_N.toString(16)}`,
        `0x${'ff'.repeat(32)}`,
        `0x${'11'.repeat(31)}`,
      ]) {
        expect(() => secp.sign(digest, bad as Hex)).toThrow(InvalidPrivateKeyError);
        expect(() => secp.addressOf(bad as Hex)).toThrow(InvalidPrivateKeyError);
      }
    });

    test('behavior: error text names the problem and never echoes the key', () => {
      const secretLooking = `0x${'00'.repeat(31)}`;
      const error = catchError(() => secp.sign(digest, secretLooking as Hex));
      expect(String(error)).toMatchInlineSnapshot(
        `"InvalidPrivateKeyError: private key must be 32 bytes of hex in [1, n-1]: got 31 bytes"`,
      );
    });
  });
}

/** The malleable twin (r, n − s, v ⊕ 1): the same signer, rejected by the registry. */
export function highSTwin(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return `${signature.slice(0, 66)}${(SECP256K1_N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}
