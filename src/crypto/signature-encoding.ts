import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, isHex, keccak256 } from 'viem';
import { InvalidDigestError, InvalidPrivateKeyError, SignatureFormatError } from './errors.ts';

/**
 * The byte-level rules shared by every Secp256k1 implementation, so that they reject exactly the
 * same inputs the registry contract rejects.
 */

/** The order of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** Signatures with s above n/2 are the malleable twin of a low-s one; the registry rejects them. */
export const SECP256K1_HALF_N = SECP256K1_N >> 1n;

export const SIGNATURE_BYTES = 65;

export interface ParsedSignature {
  readonly r: bigint;
  readonly s: bigint;
  /** 0 or 1: the parity of the nonce point's y, i.e. v − 27. */
  readonly recoveryBit: 0 | 1;
  /** r‖s, as both libraries take it. */
  readonly compact: Uint8Array;
}

/** Parses a 65-byte r‖s‖v signature, enforcing v ∈ {27, 28}, 0 < r < n and 0 < s ≤ n/2. */
export function parseSignature(signature: Hex): ParsedSignature {
  if (!isHex(signature, { strict: true }) || signature.length !== 2 + 2 * SIGNATURE_BYTES) {
    throw new SignatureFormatError(
      'length',
      `expected ${SIGNATURE_BYTES} bytes of hex, got ${describeHexLength(signature)}`,
    );
  }
  const bytes = hexToBytes(signature);
  const v = bytes[64];
  if (v !== 27 && v !== 28) {
    throw new SignatureFormatError('recoveryByte', `v must be 27 or 28, got ${String(v)}`);
  }
  const compact = bytes.slice(0, 64);
  const r = bytesToBigInt(compact.subarray(0, 32));
  const s = bytesToBigInt(compact.subarray(32, 64));
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N) {
    throw new SignatureFormatError('scalarOutOfRange', 'r and s must lie in [1, n-1]');
  }
  if (s > SECP256K1_HALF_N) {
    throw new SignatureFormatError('highS', 's is above n/2; use the low-s form n - s');
  }
  return { r, s, recoveryBit: v === 27 ? 0 : 1, compact };
}

/** Serialises r‖s and a recovery bit as the 65-byte r‖s‖v form (v = 27 + bit). */
export function serializeSignature(compact: Uint8Array, recoveryBit: number): Hex {
  if (compact.length !== 64 || (recoveryBit !== 0 && recoveryBit !== 1)) {
    throw new SignatureFormatError(
      'recoveryByte',
      `cannot serialise a ${compact.length}-byte r‖s with recovery bit ${recoveryBit}`,
    );
  }
  const signature = new Uint8Array(SIGNATURE_BYTES);
  signature.set(compact, 0);
  signature[64] = 27 + recoveryBit;
  return bytesToHex(signature);
}

/**
 * Maps a recovery byte of 0/1 (as many signers emit) to 27/28; any other signature is returned
 * unchanged, to be accepted or rejected by `parseSignature`.
 */
export function normalizeRecoveryByte(signature: Hex): Hex {
  if (!isHex(signature, { strict: true }) || signature.length !== 2 + 2 * SIGNATURE_BYTES) {
    return signature;
  }
  const v = Number.parseInt(signature.slice(-2), 16);
  if (v !== 0 && v !== 1) return signature;
  return `${signature.slice(0, -2)}${(27 + v).toString(16)}` as Hex;
}

export function digestBytes(digest: Hex): Uint8Array {
  if (!isHex(digest, { strict: true }) || digest.length !== 66) {
    throw new InvalidDigestError(`got ${describeHexLength(digest)}`);
  }
  return hexToBytes(digest);
}

export function privateKeyBytes(privateKey: Hex): Uint8Array {
  if (!isHex(privateKey, { strict: true }) || privateKey.length !== 66) {
    throw new InvalidPrivateKeyError(`got ${describeHexLength(privateKey)}`);
  }
  const scalar = BigInt(privateKey);
  if (scalar === 0n || scalar >= SECP256K1_N) {
    throw new InvalidPrivateKeyError('the scalar is 0 or not below the group order');
  }
  return hexToBytes(privateKey);
}

/** The Ethereum address of an uncompressed (65-byte, 0x04-prefixed) public key. */
export function addressFromPublicKey(uncompressedPublicKey: Uint8Array): Address {
  const hash = keccak256(uncompressedPublicKey.subarray(1));
  return getAddress(`0x${hash.slice(-40)}`);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt(bytesToHex(bytes));
}

function describeHexLength(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  if (!isHex(value, { strict: true })) return 'a string that is not 0x-prefixed hex';
  return `${(value.length - 2) / 2} bytes`;
}
