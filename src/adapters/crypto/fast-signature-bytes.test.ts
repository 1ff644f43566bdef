import fc from 'fast-check';
import { bytesToHex, hexToBytes } from 'viem';
import { describe, expect, test } from 'vitest';
import {
  digestBytes,
  parseSignature,
  SECP256K1_HALF_N,
  SECP256K1_N,
} from '../../crypto/signature-encoding.ts';
import { parseSignatureFast, strictHexBytes } from './fast-signature-bytes.ts';

/** What the reference parser makes of `signature`: its bytes, or the problem it names. */
function reference(signature: string): { compact: string; recoveryBit: number } | 'rejected' {
  try {
    const parsed = parseSignature(signature as `0x${string}`);
    return { compact: bytesToHex(parsed.compact), recoveryBit: parsed.recoveryBit };
  } catch {
    return 'rejected';
  }
}

function fast(signature: string): { compact: string; recoveryBit: number } | 'rejected' {
  const parsed = parseSignatureFast(signature);
  return parsed === undefined
    ? 'rejected'
    : { compact: bytesToHex(parsed.compact), recoveryBit: parsed.recoveryBit };
}

const scalar = (value: bigint) => value.toString(16).padStart(64, '0');
/** Scalars on and around every boundary the rule has, plus random ones. */
const arbitraryScalar = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    SECP256K1_HALF_N - 1n,
    SECP256K1_HALF_N,
    SECP256K1_HALF_N + 1n,
    SECP256K1_N - 1n,
    SECP256K1_N,
    SECP256K1_N + 1n,
    2n ** 256n - 1n,
  ),
  fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
);
const arbitraryStructuredSignature = fc
  .tuple(arbitraryScalar, arbitraryScalar, fc.integer({ min: 0, max: 255 }), fc.boolean())
  .map(([r, s, v, upper]) => {
    const body = `${scalar(r)}${scalar(s)}${v.toString(16).padStart(2, '0')}`;
    return `0x${upper ? body.toUpperCase() : body}`;
  });
/** Hex-looking strings with the wrong length, prefix or characters. */
const arbitraryMalformed = fc.oneof(
  fc.string({ maxLength: 140 }),
  fc.stringMatching(/^0x[0-9a-fA-FgxX ]{128,132}$/),
  arbitraryStructuredSignature.chain((valid) =>
    fc
      .tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.constantFrom('g', 'x', ' ', 'G', ''))
      .map(([at, char]) => `${valid.slice(0, at)}${char}${valid.slice(at + 1)}`),
  ),
);

describe('parseSignatureFast', () => {
  test('property: accepts exactly what parseSignature accepts, with the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(arbitraryStructuredSignature, arbitraryMalformed), (signature) => {
        expect(fast(signature)).toEqual(reference(signature));
      }),
      { numRuns: 5000 },
    );
  });

  test.each([
    ['s = n/2 (the largest low s)', `0x${scalar(1n)}${scalar(SECP256K1_HALF_N)}1b`, true],
    ['s = n/2 + 1', `0x${scalar(1n)}${scalar(SECP256K1_HALF_N + 1n)}1b`, false],
    ['r = n − 1', `0x${scalar(SECP256K1_N - 1n)}${scalar(1n)}1c`, true],
    ['r = n', `0x${scalar(SECP256K1_N)}${scalar(1n)}1c`, false],
    ['r = 0', `0x${scalar(0n)}${scalar(1n)}1b`, false],
    ['s = 0', `0x${scalar(1n)}${scalar(0n)}1b`, false],
    ['v = 1', `0x${scalar(1n)}${scalar(1n)}01`, false],
    ['a trailing non-hex pair', `0x${scalar(1n)}${scalar(1n)}1z`, false],
  ])('behavior: %s', (_label, signature, accepted) => {
    expect(fast(signature) !== 'rejected').toBe(accepted);
    expect(reference(signature) !== 'rejected').toBe(accepted);
  });
});

describe('strictHexBytes', () => {
  test('property: decodes what digestBytes decodes and rejects what it rejects', () => {
    const arbitraryDigestLike = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => bytesToHex(bytes)),
      fc.uint8Array({ minLength: 31, maxLength: 33 }).map((bytes) => bytesToHex(bytes)),
      fc.string({ maxLength: 70 }),
      fc.stringMatching(/^0x[0-9a-fA-Fg]{64}$/),
    );
    fc.assert(
      fc.property(arbitraryDigestLike, (digest) => {
        let expected: Uint8Array | 'rejected';
        try {
          expected = digestBytes(digest as `0x${string}`);
        } catch {
          expected = 'rejected';
        }
        const decoded = strictHexBytes(digest, 32);
        expect(decoded === undefined ? 'rejected' : new Uint8Array(decoded)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  test('behavior: needs the 0x prefix and exactly the byte length', () => {
    const hex = `0x${'ab'.repeat(32)}`;
    expect(strictHexBytes(hex, 32)).toEqual(Buffer.from(hexToBytes(hex as `0x${string}`)));
    expect(strictHexBytes(hex.slice(2), 32)).toBeUndefined();
    expect(strictHexBytes(`0X${'ab'.repeat(32)}`, 32)).toBeUndefined();
    expect(strictHexBytes(hex, 31)).toBeUndefined();
  });
});
