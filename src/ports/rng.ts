/** Randomness as node code sees it: seeded in the simulator, cryptographic in production. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** `length` random bytes (nonces, ids). */
  bytes(length: number): Uint8Array;
}
