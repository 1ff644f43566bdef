import type { Address, Hex } from 'viem';

/**
 * ECDSA over secp256k1 as the protocol uses it: raw 32-byte digests (the task id, no EIP-191
 * prefix) and 65-byte `r‖s‖v` signatures with v = 27/28 and low s, which is the only form the
 * registry's `isValidSignature` accepts. Implementations live in `src/adapters/crypto/` (native
 * libsecp256k1 and @noble/curves) and pass one compliance suite; both are deterministic
 * (RFC 6979), so they return identical signatures.
 *
 * Every method throws a CryptoError for malformed input; none accepts a high-s signature or a
 * recovery byte other than 27/28 (normalise 0/1 first with `normalizeRecoveryByte`).
 */
export interface Secp256k1 {
  /** For logs and benchmarks: "native" or "noble". */
  readonly implementation: string;
  sign(digest: Hex, privateKey: Hex): Hex;
  recoverAddress(digest: Hex, signature: Hex): Address;
  addressOf(privateKey: Hex): Address;
}
