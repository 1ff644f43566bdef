import type { Address } from 'viem';

/**
 * Operator rewards: an interface only, NOT implemented, by design. The design notes mark rewards
 * "TODO 暂时不实现 配合interface" (not implemented for now; leave an interface) and SPEC §3 says
 * the same. The notes' model: every interval sets one reward per completed task, equal for all
 * tasks, paid according to each operator's `successfulResponseCount` over the interval.
 * Submitting rewards on chain is outside the core.
 */
export interface RewardsCalculator {
  calculateRewards(input: RewardsInput): readonly OperatorReward[];
}

export interface RewardsInput {
  /** The interval, inclusive, in epochs. */
  readonly fromEpoch: number;
  readonly toEpoch: number;
  /** The reward for one task in the interval; the same for every task. */
  readonly rewardPerTaskWei: bigint;
  /** Successful responses per operator within the interval. */
  readonly responses: readonly {
    readonly operator: Address;
    readonly successfulResponseCount: number;
  }[];
}

export interface OperatorReward {
  readonly operator: Address;
  readonly amountWei: bigint;
}
