import { randomBytes } from 'node:crypto';
import seedrandom from 'seedrandom';
import type { Rng } from '../../ports/rng.ts';

/** A reproducible stream from one seed (simulator, property tests). */
export function createSeededRng(seed: string | number): Rng {
  const prng = seedrandom(String(seed));
  const next = () => prng.quick();
  return {
    next,
    int: (maxExclusive) => Math.floor(next() * maxExclusive),
    bytes: (length) => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}

/** Cryptographic randomness for production wiring. */
export function createCryptoRng(): Rng {
  const next = () => randomBytes(4).readUInt32BE(0) / 2 ** 32;
  return {
    next,
    int: (maxExclusive) => Math.floor(next() * maxExclusive),
    bytes: (length) => new Uint8Array(randomBytes(length)),
  };
}
