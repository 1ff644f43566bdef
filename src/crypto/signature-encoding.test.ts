import type { Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { SignatureFormatError } from './errors.ts';
import {
  normalizeRecoveryByte,
  parseSignature,
  SECP256K1_HALF_N,
  serializeSignature,
} from './signature-encoding.ts';

const r = `${'12'.repeat(32)}`;
const lowS = SECP256K1_HALF_N.toString(16).padStart(64, '0');
const highS = (SECP256K1_HALF_N + 1n).toString(16).padStart(64, '0');

describe('parseSignature', () => {
  test('behavior: s = n/2 is the largest accepted s, n/2 + 1 is rejected', () => {
    expect(parseSignature(`0x${r}${lowS}1c`)).toMatchObject({
      s: SECP256K1_HALF_N,
      recoveryBit: 1,
    });
    expect(() => parseSignature(`0x${r}${highS}1c`)).toThrow(SignatureFormatError);
  });

  test('behavior: v = 27 → recovery bit 0, v = 28 → 1', () => {
    expect(parseSignature(`0x${r}${lowS}1b`).recoveryBit).toBe(0);
    expect(parseSignature(`0x${r}${lowS}1c`).recoveryBit).toBe(1);
  });
});

describe('normalizeRecoveryByte', () => {
  test.each([
    ['00', '1b'],
    ['01', '1c'],
    ['1b', '1b'],
    ['1c', '1c'],
    ['02', '02'],
  ])('behavior: v = 0x%s → 0x%s', (from, to) => {
    expect(normalizeRecoveryByte(`0x${r}${lowS}${from}`)).toBe(`0x${r}${lowS}${to}`);
  });

  test('behavior: leaves malformed input for parseSignature to reject', () => {
    expect(normalizeRecoveryByte('0x1234')).toBe('0x1234');
  });
});

describe('serializeSignature', () => {
  test('behavior: r‖s‖(27 + bit), and refuses recovery bits other than 0/1', () => {
    const compact = new Uint8Array(64).fill(1);
    expect(serializeSignature(compact, 1)).toBe(`0x${'01'.repeat(64)}1c` as Hex);
    expect(() => serializeSignature(compact, 2)).toThrow(SignatureFormatError);
  });
});
