import { addressKey } from '../core/address.ts';
import type { JoinRequestMessage } from '../wire/join.ts';

/** One operator's latest accepted signed join, numbered in this registry's order of recording. */
export interface LoggedJoin {
  readonly seq: number;
  readonly join: JoinRequestMessage;
}

/**
 * The latest accepted signed join of each operator (src/registry/README.md "Replication",
 * "Joins"): what this registry hands to the others so that each re-verifies the operator's own
 * signature. Joins are ordered by what the operator signed — `expiresAtMs`, then the nonce — never
 * by this registry's clock, so a replayed older join cannot displace a newer one. Memory only,
 * bounded by the number of operators (one entry each); `seq` restarts at 0 with the process.
 */
export interface JoinLog {
  /** True when `join` is newer than the operator's recorded one (or none is recorded). */
  isNewer(join: JoinRequestMessage): boolean;
  /** Records `join` as the operator's latest when it is newer; returns whether it was. */
  record(join: JoinRequestMessage): boolean;
  /** Joins recorded after `afterSeq`, ascending by seq, at most `limit`. */
  listAfter(afterSeq: number, limit: number): LoggedJoin[];
  /** The seq of the latest recorded join (0 when none). */
  latestSeq(): number;
}

/** Orders two joins of one operator by their signed fields: expiry, then nonce. */
export function compareJoins(a: JoinRequestMessage, b: JoinRequestMessage): number {
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs < b.expiresAtMs ? -1 : 1;
  const nonceA = a.nonce.toLowerCase();
  const nonceB = b.nonce.toLowerCase();
  return nonceA === nonceB ? 0 : nonceA < nonceB ? -1 : 1;
}

export function createJoinLog(): JoinLog {
  const byOperator = new Map<string, LoggedJoin>();
  let seq = 0;

  function isNewer(join: JoinRequestMessage): boolean {
    const current = byOperator.get(addressKey(join.operator));
    return current === undefined || compareJoins(join, current.join) > 0;
  }

  return {
    isNewer,
    record(join) {
      if (!isNewer(join)) return false;
      seq += 1;
      byOperator.set(addressKey(join.operator), {
        seq,
        join: { ...join, listenAddresses: [...join.listenAddresses] },
      });
      return true;
    },
    listAfter(afterSeq, limit) {
      return [...byOperator.values()]
        .filter((entry) => entry.seq > afterSeq)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit);
    },
    latestSeq: () => seq,
  };
}
