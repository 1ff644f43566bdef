import { type Hex, keccak256, toHex } from 'viem';

/** A private key derived from the seed and a label: the same run always has the same accounts. */
export function deriveKey(seed: number, label: string): Hex {
  return keccak256(toHex(`spotted-sim:${seed}:${label}`));
}
