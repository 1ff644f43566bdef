/**
 * Per-peer token buckets: a peer may send `burst` messages at once and `ratePerSec` on average.
 * Pure (the caller passes the time), so the simulator and production share it. The number of
 * tracked peers is bounded: the least recently seen peer's bucket is forgotten first, which
 * only ever hands that peer a fresh (full) bucket, never blocks an honest one.
 */
export interface PeerRateLimiterOptions {
  ratePerSec: number;
  burst: number;
  /** Buckets kept at most; a hostile swarm of new peer ids cannot grow memory past it. */
  maxTrackedPeers: number;
}

export interface PeerRateLimiter {
  /** Takes one token for `peer` at `nowMs`; false when the peer is over its rate. */
  tryTake(peer: string, nowMs: number): boolean;
  trackedPeerCount(): number;
}

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export function createPeerRateLimiter(options: PeerRateLimiterOptions): PeerRateLimiter {
  const { ratePerSec, burst, maxTrackedPeers } = options;
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec))
    throw new RangeError(`ratePerSec must be a positive number, got ${ratePerSec}`);
  if (!Number.isInteger(burst) || burst < 1)
    throw new RangeError(`burst must be an integer ≥ 1, got ${burst}`);
  if (!Number.isInteger(maxTrackedPeers) || maxTrackedPeers < 1)
    throw new RangeError(`maxTrackedPeers must be an integer ≥ 1, got ${maxTrackedPeers}`);
  // Map iteration order is insertion order: re-inserting on use keeps it least-recent first.
  const buckets = new Map<string, Bucket>();

  return {
    tryTake(peer, nowMs) {
      let bucket = buckets.get(peer);
      if (bucket) {
        buckets.delete(peer);
        const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
        bucket.tokens = Math.min(burst, bucket.tokens + (elapsedMs * ratePerSec) / 1000);
        bucket.updatedAtMs = Math.max(bucket.updatedAtMs, nowMs);
      } else {
        bucket = { tokens: burst, updatedAtMs: nowMs };
        if (buckets.size >= maxTrackedPeers) {
          const oldest = buckets.keys().next().value;
          if (oldest !== undefined) buckets.delete(oldest);
        }
      }
      buckets.set(peer, bucket);
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    trackedPeerCount: () => buckets.size,
  };
}
