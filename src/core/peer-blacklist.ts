/**
 * Peers banned for misbehaviour, each until a time, with the reason kept for logs and metrics.
 * Pure (the caller passes the time). Bounded: when full, the ban that ends first is dropped,
 * so a flood of offenders cannot grow memory without limit.
 */
export interface PeerBan {
  peer: string;
  untilMs: number;
  reason: string;
}

export interface PeerBlacklist {
  /** Bans `peer` until `untilMs`; a longer existing ban is kept. */
  ban(peer: string, untilMs: number, reason: string): void;
  /** The active ban of `peer` at `nowMs`, if any (expired bans are forgotten here). */
  banOf(peer: string, nowMs: number): PeerBan | undefined;
  isBanned(peer: string, nowMs: number): boolean;
  lift(peer: string): boolean;
  activeBans(nowMs: number): PeerBan[];
}

export function createPeerBlacklist(options: { maxBans: number }): PeerBlacklist {
  if (!Number.isInteger(options.maxBans) || options.maxBans < 1)
    throw new RangeError(`maxBans must be an integer ≥ 1, got ${options.maxBans}`);
  const bans = new Map<string, PeerBan>();

  const banOf = (peer: string, nowMs: number) => {
    const entry = bans.get(peer);
    if (!entry) return undefined;
    if (entry.untilMs <= nowMs) {
      bans.delete(peer);
      return undefined;
    }
    return entry;
  };

  return {
    ban(peer, untilMs, reason) {
      const existing = bans.get(peer);
      if (existing && existing.untilMs >= untilMs) return;
      if (!existing && bans.size >= options.maxBans) {
        let soonest: PeerBan | undefined;
        for (const entry of bans.values())
          if (!soonest || entry.untilMs < soonest.untilMs) soonest = entry;
        if (soonest && soonest.untilMs > untilMs) return;
        if (soonest) bans.delete(soonest.peer);
      }
      bans.set(peer, { peer, untilMs, reason });
    },
    banOf,
    isBanned: (peer, nowMs) => banOf(peer, nowMs) !== undefined,
    lift: (peer) => bans.delete(peer),
    activeBans(nowMs) {
      for (const entry of [...bans.values()]) banOf(entry.peer, nowMs);
      return [...bans.values()].sort((a, b) => a.untilMs - b.untilMs || (a.peer < b.peer ? -1 : 1));
    },
  };
}
