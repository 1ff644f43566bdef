import type { Aggregator } from '../aggregator/aggregator.ts';
import { ProofRequestError } from '../aggregator/errors.ts';

/**
 * The aggregator as the registry exposes it: while this registry's latest epoch state disagrees
 * with the majority of the registries (`diverged()`), new proof requests are refused with
 * NOT_READY — its threshold or snapshot may be wrong, so it must not select operators or count
 * weight. Everything else (tasks already accepted, reads) passes through.
 */
export function refuseWhileDiverged(
  aggregator: Aggregator,
  replication: { diverged(): boolean },
): Aggregator {
  return {
    ...aggregator,
    requestProof(query, deliveries) {
      if (replication.diverged()) {
        return Promise.reject(
          new ProofRequestError(
            'NOT_READY',
            'this registry’s epoch state disagrees with the other registries; it is being repaired, ask another registry',
          ),
        );
      }
      return aggregator.requestProof(query, deliveries);
    },
  };
}
