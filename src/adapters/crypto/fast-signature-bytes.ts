import { SECP256K1_HALF_N, SECP256K1_N, SIGNATURE_BYTES } from '../../crypto/signature-encoding.ts';

/**
 * Byte-level fast paths for the aggregator's hot loop (one recovery per response). Each returns
 * undefined for anything it does not accept, and the caller then runs the reference parser in
 * `src/crypto/signature-encoding.ts`, which throws the precise error: the fast path never
 * accepts an input the reference rejects, it only skips the hex → string → BigInt round trips.
 */

const N_BYTES = scalarBytes(SECP256K1_N);
const HALF_N_BYTES = scalarBytes(SECP256K1_HALF_N);
const ZERO_BYTES = Buffer.alloc(32);

/** Strict `0x`-prefixed hex of exactly `byteLength` bytes, decoded; undefined otherwise. */
export function strictHexBytes(hex: string, byteLength: number): Buffer | undefined {
  if (typeof hex !== 'string' || hex.length !== 2 + 2 * byteLength) return undefined;
  if (hex.charCodeAt(0) !== 48 || hex.charCodeAt(1) !== 120) return undefined; // "0x"
  // Buffer's hex decoder stops at the first pair that is not hex: a short result means bad input.
  const bytes = Buffer.from(hex.slice(2), 'hex');
  return bytes.length === byteLength ? bytes : undefined;
}

export interface FastParsedSignature {
  /** r‖s, 64 bytes. */
  readonly compact: Buffer;
  readonly recoveryBit: 0 | 1;
}

/**
 * The same acceptance rule as `parseSignature` (v ∈ {27, 28}, 0 < r < n, 0 < s ≤ n/2), compared
 * as big-endian bytes; undefined whenever that rule would reject the input.
 */
export function parseSignatureFast(signature: string): FastParsedSignature | undefined {
  const bytes = strictHexBytes(signature, SIGNATURE_BYTES);
  if (bytes === undefined) return undefined;
  const v = bytes[64];
  if (v !== 27 && v !== 28) return undefined;
  const r = bytes.subarray(0, 32);
  const s = bytes.subarray(32, 64);
  if (r.equals(ZERO_BYTES) || r.compare(N_BYTES) >= 0) return undefined;
  if (s.equals(ZERO_BYTES) || s.compare(HALF_N_BYTES) > 0) return undefined;
  return { compact: bytes.subarray(0, 64), recoveryBit: v === 27 ? 0 : 1 };
}

function scalarBytes(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}
