import type { Address } from 'viem';
import { sameAddress } from '../core/address.ts';
import type { MainChain } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type Network, TOPICS } from '../ports/network.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { encodeEpochState } from '../wire/epoch.ts';

/**
 * An operator that joins at or after its active epoch is `active` at once, so it joins the
 * current epoch's operator set too instead of idling until the next epoch start (days, with
 * production epochs). Its weight and signing key come from the chain at that epoch, the same
 * reads an epoch advance makes; an operator with no weight there is not added. Chain reads
 * happen before the transaction; inside it, the snapshot is extended only if the epoch is still
 * the latest and the operator still active. The extended epoch state is published again so the
 * other operators see the new member (they adopt a changed state of the same epoch).
 */
export async function addJoinedOperatorToSnapshot(
  deps: {
    chain: MainChain;
    store: RegistryStore;
    network: Pick<Network, 'publish'>;
    clock: Clock;
    log: Logger;
  },
  operator: Address,
  epoch: number,
): Promise<boolean> {
  const [weightWei, signingKey] = await Promise.all([
    deps.chain.getOperatorWeightAtEpoch({ operator, epoch }),
    deps.chain.getOperatorSigningKeyAtEpoch({ operator, epoch }),
  ]);
  if (weightWei === 0n) return false;
  const added = await deps.store.transaction(async (tx) => {
    const [latest, record, snapshot] = await Promise.all([
      tx.epochStates.getLatest(),
      tx.operators.get(operator),
      tx.epochOperators.list(epoch),
    ]);
    if (latest?.epoch !== epoch || record?.status !== 'active') return false;
    if (snapshot.some((entry) => sameAddress(entry.operator, operator))) return false;
    await tx.epochOperators.snapshot(epoch, [
      ...snapshot.map((entry) => ({
        operator: entry.operator,
        weightWei: entry.weightWei,
        signingKey: entry.signingKey,
      })),
      { operator, weightWei, signingKey },
    ]);
    return true;
  });
  if (!added) return false;
  deps.log.info('joined operator added to the current epoch', { operator, epoch });
  const [state, operators] = await Promise.all([
    deps.store.epochStates.get(epoch),
    deps.store.epochOperators.list(epoch),
  ]);
  if (state) {
    const message = encodeEpochState({
      epoch: state.epoch,
      startBlock: state.startBlock,
      minimumWeightWei: state.minimumWeightWei,
      totalWeightWei: state.totalWeightWei,
      thresholdWeightWei: state.thresholdWeightWei,
      operators: operators.map((o) => ({
        operator: o.operator,
        weightWei: o.weightWei,
        signingKey: o.signingKey,
      })),
      publishedAtMs: deps.clock.now(),
    });
    await deps.network
      .publish(TOPICS.epoch, message)
      .catch((error: unknown) =>
        deps.log.warn('extended epoch state not published', { epoch, error: String(error) }),
      );
  }
  return true;
}
