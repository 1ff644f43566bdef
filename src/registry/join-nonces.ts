import type { Hex } from 'viem';

/** Default bound on remembered join nonces (~100 bytes each: a few MiB at most). */
export const DEFAULT_MAX_JOIN_NONCES = 50_000;

export interface JoinNonceCache {
  /**
   * Claims `nonce` until `expiresAtMs`. False when it was claimed before and has not expired yet
   * (a replay). Expired entries are forgotten: a request past its expiry is refused as expired
   * before its nonce is looked at.
   */
  claim(nonce: Hex, expiresAtMs: number, nowMs: number): boolean;
  size(): number;
}

/**
 * The join service's replay guard: nonces in memory, each kept until its request's expiry (at
 * most the join service's 5-minute horizon), bounded by `maxEntries`. When full of live entries,
 * the one expiring soonest is dropped. That could let its request be replayed until it expires,
 * but only by the peer it names (the join service requires the request to come from the peer id
 * it binds), so a replay can at most rebind an operator to the same peer.
 *
 * On restart the cache is empty: a join captured before the restart could be replayed until it
 * expires (≤ 5 minutes), with the same bound on what that achieves.
 */
export function createJoinNonceCache(options: { maxEntries?: number } = {}): JoinNonceCache {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_JOIN_NONCES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }
  const expiries = new Map<string, number>();

  function pruneExpired(nowMs: number): void {
    for (const [key, expiresAtMs] of expiries) {
      if (expiresAtMs < nowMs) expiries.delete(key);
    }
  }

  function dropSoonestExpiring(): void {
    let soonestKey: string | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    for (const [key, expiresAtMs] of expiries) {
      if (expiresAtMs < soonest) {
        soonest = expiresAtMs;
        soonestKey = key;
      }
    }
    if (soonestKey !== undefined) expiries.delete(soonestKey);
  }

  return {
    claim(nonce, expiresAtMs, nowMs) {
      const key = nonce.toLowerCase();
      const seenUntil = expiries.get(key);
      if (seenUntil !== undefined && seenUntil >= nowMs) return false;
      if (expiries.size >= maxEntries) pruneExpired(nowMs);
      if (expiries.size >= maxEntries) dropSoonestExpiring();
      expiries.set(key, expiresAtMs);
      return true;
    },
    size: () => expiries.size,
  };
}
