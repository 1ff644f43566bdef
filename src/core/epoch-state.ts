import type { Address } from 'viem';

/** One row of `epoch_operators`: an operator active in the epoch, as the registry saw it then. */
export interface EpochOperator {
  readonly operator: Address;
  readonly weightWei: bigint;
  readonly signingKey: Address;
}

/** One row of `epoch_states` (the store adds `updatedAt`). */
export interface EpochStateRow {
  readonly epoch: number;
  /** `getStartBlockForEpoch(epoch)`. */
  readonly startBlock: bigint;
  readonly minimumWeightWei: bigint;
  readonly totalWeightWei: bigint;
  /** An absolute weight: a proof needs signed weight ≥ this. */
  readonly thresholdWeightWei: bigint;
}
