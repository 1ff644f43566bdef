import type { Address } from 'viem';
import { addressKey, compareAddresses } from './address.ts';
import type { EpochOperator } from './epoch-state.ts';
import { reachesThreshold, sumWeightsWei } from './weight.ts';

/**
 * How a round picks its operators.
 * - `allActive` (the default): every active, non-excluded operator of the epoch. The first
 *   signatures to reach the threshold win, so nobody waits for a second round; the price is that
 *   a retry can add nobody new, so a round that ends below the threshold fails the task.
 * - `heaviestFirst`: the operators who already signed, then the heaviest others (ties by address)
 *   until the threshold is reached. Fewer messages per task; retries then ask fresh operators.
 */
export type SelectionStrategy = 'allActive' | 'heaviestFirst';

export type OperatorSelection =
  | {
      readonly kind: 'selected';
      /** Ascending by address; includes the `alreadySigned` operators that are not excluded. */
      readonly operators: readonly EpochOperator[];
      readonly weightWei: bigint;
    }
  | {
      /** Even if every remaining operator signed, the proof would stay below the threshold. */
      readonly kind: 'thresholdUnreachable';
      readonly availableWeightWei: bigint;
      readonly thresholdWeightWei: bigint;
      readonly excluded: readonly Address[];
    };

/**
 * Chooses an operator set whose weight reaches the threshold from the epoch's active operators,
 * leaving out `excluded` ones (refusers and non-responders of earlier rounds).
 */
export function selectOperatorSet(args: {
  epochOperators: readonly EpochOperator[];
  thresholdWeightWei: bigint;
  excluded?: readonly Address[];
  alreadySigned?: readonly Address[];
  strategy?: SelectionStrategy;
}): OperatorSelection {
  const excluded = args.excluded ?? [];
  const excludedKeys = new Set(excluded.map(addressKey));
  const candidates = args.epochOperators.filter(
    (candidate) => !excludedKeys.has(addressKey(candidate.operator)),
  );
  const availableWeightWei = sumWeightsWei(candidates.map((candidate) => candidate.weightWei));
  const reachable = reachesThreshold({
    signedWeightWei: availableWeightWei,
    thresholdWeightWei: args.thresholdWeightWei,
    signerCount: candidates.length,
  });
  if (!reachable) {
    return {
      kind: 'thresholdUnreachable',
      availableWeightWei,
      thresholdWeightWei: args.thresholdWeightWei,
      excluded,
    };
  }
  const chosen =
    (args.strategy ?? 'allActive') === 'allActive'
      ? candidates
      : heaviestFirst(candidates, args.thresholdWeightWei, args.alreadySigned ?? []);
  return {
    kind: 'selected',
    operators: [...chosen].sort((a, b) => compareAddresses(a.operator, b.operator)),
    weightWei: sumWeightsWei(chosen.map((candidate) => candidate.weightWei)),
  };
}

function heaviestFirst(
  candidates: readonly EpochOperator[],
  thresholdWeightWei: bigint,
  alreadySigned: readonly Address[],
): EpochOperator[] {
  const signedKeys = new Set(alreadySigned.map(addressKey));
  const chosen = candidates.filter((candidate) => signedKeys.has(addressKey(candidate.operator)));
  let weightWei = sumWeightsWei(chosen.map((candidate) => candidate.weightWei));
  const others = candidates
    .filter((candidate) => !signedKeys.has(addressKey(candidate.operator)))
    .sort((a, b) =>
      a.weightWei === b.weightWei
        ? compareAddresses(a.operator, b.operator)
        : a.weightWei > b.weightWei
          ? -1
          : 1,
    );
  for (const candidate of others) {
    if (
      reachesThreshold({
        signedWeightWei: weightWei,
        thresholdWeightWei,
        signerCount: chosen.length,
      })
    ) {
      break;
    }
    chosen.push(candidate);
    weightWei += candidate.weightWei;
  }
  return chosen;
}
