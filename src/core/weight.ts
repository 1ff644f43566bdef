/** Stake weights are uint256 on chain: always bigint here, never a float. */

export function sumWeightsWei(weights: Iterable<bigint>): bigint {
  let total = 0n;
  for (const weight of weights) total += weight;
  return total;
}

/**
 * The registry's rule: `signedWeight < thresholdWeight` reverts InsufficientSignedStake, so
 * exactly the threshold is enough and one wei below is not. A proof also needs at least one
 * signer (an empty set reverts InvalidLength), even when the threshold is 0.
 */
export function reachesThreshold(args: {
  signedWeightWei: bigint;
  thresholdWeightWei: bigint;
  signerCount: number;
}): boolean {
  return args.signerCount > 0 && args.signedWeightWei >= args.thresholdWeightWei;
}
