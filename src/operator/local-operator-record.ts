import { sameAddress } from '../core/address.ts';
import type { LocalOperatorInput, LocalOperatorRecord } from '../store/operator/local-operator.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';

/**
 * Writes this node's `local_operator` row only when it would change. The epoch follower re-asserts
 * the record at every adopted epoch and every sync, the join client at every join; almost always
 * nothing differs, and an unchanged `put` still costs a locking read and an upsert. The caller
 * passes what it just read (`stored`), so the common case is that one read and no write.
 * `last_updated_at` therefore moves when the record changes, not at every confirmation.
 * Returns whether it wrote.
 */
export async function putLocalOperatorIfChanged(
  store: OperatorStore,
  stored: LocalOperatorRecord | undefined,
  next: LocalOperatorInput,
): Promise<boolean> {
  if (stored !== undefined && sameLocalOperator(stored, next)) return false;
  await store.localOperator.put(next);
  return true;
}

/** Same address, key, weight, active epoch and status (addresses compared case-insensitively). */
export function sameLocalOperator(a: LocalOperatorInput, b: LocalOperatorInput): boolean {
  return (
    sameAddress(a.address, b.address) &&
    sameAddress(a.signingKey, b.signingKey) &&
    a.weightWei === b.weightWei &&
    a.activeEpoch === b.activeEpoch &&
    a.status === b.status
  );
}
