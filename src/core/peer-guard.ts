import {
  type ConnectionGate,
  type PeerId,
  PROTOCOLS,
  type Protocol,
  TOPICS,
  type Topic,
} from '../ports/network.ts';
import type { Rejection, RejectionReason, RejectionReporter } from '../ports/rejections.ts';
import { createPeerBlacklist } from './peer-blacklist.ts';
import { createPeerRateLimiter, type PeerRateLimiter } from './peer-rate-limiter.ts';

/**
 * A node's admission policy (the `ConnectionGate` it installs on its Network) plus the one place
 * every rejection goes, whether the network refused a message or a handler did:
 *
 * - Admitted peers (the node decides: a registry admits other registries and operators bound by a
 *   join) may connect and use every channel, each within its per-peer rate limit.
 * - Other peers may use only the `openChannels` (a registry opens `/spotted/join/1` and
 *   `/spotted/health/1`, so a new operator can join), and only for a grace period that each use
 *   of an open channel renews: a stranger that stops trying is refused as `not_admitted` after
 *   it, one that keeps trying is held to the open channels' rate limits. (An absolute grace from
 *   first contact would lock out an honest operator whose registration is still on its way: its
 *   join is refused `notRegistered` and retried with backoff for as long as that takes.) Their
 *   last-use times are kept for a bounded number of peers (least recently seen forgotten first:
 *   a forgotten peer only gets a fresh grace period, within which it can still only join).
 * - Every rejection of a hostile kind (see STRIKE_REASONS) is a strike against the peer; strikes
 *   refill like a token bucket, and a peer that runs out is banned for `banMs` (blacklist with
 *   expiry) and hung up on. Banned peers are refused everything as `blacklisted`. Protected peers
 *   (the configured registries, seen from an operator) are never banned: their messages are
 *   still refused one by one, but a registry is not cut off for a burst of bad input.
 *
 * Pure apart from the callbacks it is given: time comes from `now`, so the simulator and
 * production share it. Every count is bounded (peers tracked, bans, reason × channel pairs).
 */
export interface PeerGuardOptions {
  /** How long a peer that is not admitted may stay idle between uses of the open channels. */
  unknownPeerGraceMs: number;
  /** What a peer that is not (yet) admitted may use during its grace period. */
  openChannels: readonly (Protocol | Topic)[];
  /** Per-peer token bucket for each channel; a channel not listed is not rate limited. */
  rateLimits: Partial<Record<Protocol | Topic, { ratePerSec: number; burst: number }>>;
  /** Peers tracked per limiter and for grace periods. */
  maxTrackedPeers: number;
  /** Hostile rejections a peer may collect at once before it is banned. */
  strikesBeforeBan: number;
  /** How fast strikes are forgiven. */
  strikeRefillPerSec: number;
  /**
   * Reasons that prove hostility on their own (no honest peer ever causes them, not even by
   * accident or delay): the first one bans the peer.
   */
  banAtOnce: readonly RejectionReason[];
  banMs: number;
  maxBans: number;
  /**
   * New strangers (peers neither admitted nor already tracked) admitted per second, across all
   * of them: a sybil flood of fresh identities is then refused at the connection gate, before it
   * costs a muxer, identify, gossip streams and a signature check per message, while an honest
   * newcomer still gets in within a second or so. `undefined`: no limit.
   */
  strangerAdmissions?: { ratePerSec: number; burst: number } | undefined;
}

export const DEFAULT_PEER_GUARD_OPTIONS: Omit<PeerGuardOptions, 'openChannels'> = {
  unknownPeerGraceMs: 5 * 60_000,
  rateLimits: {},
  maxTrackedPeers: 4096,
  strikesBeforeBan: 20,
  strikeRefillPerSec: 0.5,
  banAtOnce: [],
  banMs: 10 * 60_000,
  maxBans: 4096,
};

export interface PeerGuardDeps {
  now(): number;
  /** Whether the peer is admitted by who it is (a known registry, a bound operator). */
  isAdmitted(peer: PeerId): boolean;
  /** Peers never banned (the operator's configured registries). */
  isProtected?(peer: PeerId): boolean;
  /** Closes the connections of a peer that was just banned. */
  hangUp(peer: PeerId): void;
  /** Told of every rejection (metrics, logs). */
  report?: RejectionReporter | undefined;
}

export interface PeerGuard extends ConnectionGate {
  /** Records a rejection made by a handler (malformed bytes, bad signature, …). */
  report(rejection: Rejection): void;
  /** Rejections so far, keyed `reason channel`. */
  counts(): ReadonlyMap<string, number>;
  countOf(reason: RejectionReason, channel?: Rejection['channel']): number;
  isBanned(peer: PeerId): boolean;
}

/** Rejections no honest peer causes: each is a strike towards a ban. */
const STRIKE_REASONS: ReadonlySet<RejectionReason> = new Set<RejectionReason>([
  'not_admitted',
  'rate_limited',
  'oversize',
  'malformed',
  'not_operator',
  'not_registry',
  'invalid_signature',
  'replayed_join',
]);

export function createPeerGuard(deps: PeerGuardDeps, options: PeerGuardOptions): PeerGuard {
  if (!(options.unknownPeerGraceMs >= 0))
    throw new RangeError(`unknownPeerGraceMs must be ≥ 0, got ${options.unknownPeerGraceMs}`);
  if (!(options.banMs > 0)) throw new RangeError(`banMs must be > 0, got ${options.banMs}`);
  const open = new Set<Protocol | Topic>(options.openChannels);
  const banAtOnce = new Set<RejectionReason>(options.banAtOnce);
  const limiters = new Map<Protocol | Topic, PeerRateLimiter>();
  for (const [channel, limit] of Object.entries(options.rateLimits)) {
    if (limit === undefined) continue;
    limiters.set(
      channel as Protocol | Topic,
      createPeerRateLimiter({ ...limit, maxTrackedPeers: options.maxTrackedPeers }),
    );
  }
  const strikes = createPeerRateLimiter({
    ratePerSec: options.strikeRefillPerSec,
    burst: options.strikesBeforeBan,
    maxTrackedPeers: options.maxTrackedPeers,
  });
  const blacklist = createPeerBlacklist({ maxBans: options.maxBans });
  /** One token bucket shared by every new stranger (the key is a constant). */
  const strangerBudget =
    options.strangerAdmissions === undefined
      ? undefined
      : createPeerRateLimiter({ ...options.strangerAdmissions, maxTrackedPeers: 1 });
  /** Unadmitted peers' last uses of an open channel (or first contact), least recent first. */
  const lastSeenMs = new Map<PeerId, number>();
  const counts = new Map<string, number>();

  /** When `peer` was last seen (now, for a peer not tracked); `touch` makes it now. */
  function lastSeen(peer: PeerId, nowMs: number, touch: boolean): number {
    const seen = lastSeenMs.get(peer);
    lastSeenMs.delete(peer);
    if (seen === undefined && lastSeenMs.size >= options.maxTrackedPeers) {
      const oldest = lastSeenMs.keys().next();
      if (oldest.done !== true) lastSeenMs.delete(oldest.value);
    }
    const next = touch || seen === undefined ? nowMs : seen;
    lastSeenMs.set(peer, next);
    return seen ?? nowMs;
  }

  function report(rejection: Rejection): void {
    const key = `${rejection.reason} ${rejection.channel}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    deps.report?.(rejection);
    if (!STRIKE_REASONS.has(rejection.reason) || deps.isProtected?.(rejection.peer) === true)
      return;
    const nowMs = deps.now();
    if (!banAtOnce.has(rejection.reason) && strikes.tryTake(rejection.peer, nowMs)) return;
    if (blacklist.isBanned(rejection.peer, nowMs)) return;
    blacklist.ban(rejection.peer, nowMs + options.banMs, rejection.reason);
    deps.hangUp(rejection.peer);
  }

  /** Refusal of the peer itself, without reporting; `touch` renews a stranger's grace. */
  function peerRefusal(peer: PeerId, nowMs: number, touch = false): RejectionReason | undefined {
    if (blacklist.isBanned(peer, nowMs)) return 'blacklisted';
    if (deps.isAdmitted(peer)) return undefined;
    if (
      strangerBudget !== undefined &&
      !lastSeenMs.has(peer) &&
      !strangerBudget.tryTake('strangers', nowMs)
    )
      return 'too_many_strangers';
    const idleMs = nowMs - lastSeen(peer, nowMs, false);
    if (idleMs > options.unknownPeerGraceMs) return 'not_admitted';
    if (touch) lastSeen(peer, nowMs, true);
    return undefined;
  }

  return {
    refusePeer(peer) {
      const reason = peerRefusal(peer, deps.now());
      if (reason !== undefined) report({ reason, channel: 'connection', peer });
      return reason;
    },
    refuseMessage(peer, channel) {
      const nowMs = deps.now();
      let reason = peerRefusal(peer, nowMs, open.has(channel));
      if (reason === undefined && !deps.isAdmitted(peer) && !open.has(channel))
        reason = 'not_admitted';
      if (reason === undefined && limiters.get(channel)?.tryTake(peer, nowMs) === false)
        reason = 'rate_limited';
      if (reason !== undefined) report({ reason, channel, peer });
      return reason;
    },
    isRefused: (peer) => peerRefusal(peer, deps.now()) !== undefined,
    onRejected: report,
    report,
    counts: () => counts,
    countOf(reason, channel) {
      if (channel !== undefined) return counts.get(`${reason} ${channel}`) ?? 0;
      let total = 0;
      for (const [key, count] of counts) if (key.startsWith(`${reason} `)) total += count;
      return total;
    },
    isBanned: (peer) => blacklist.isBanned(peer, deps.now()),
  };
}

/**
 * The registry's policy. It admits other known registries and every peer bound to an operator
 * by an accepted join (the peer directory). Anyone else may only join, ask for health, sync the
 * epoch state (public: it is derived from the chain, and an operator asks for it while its join
 * is in flight) and take part in gossip (forwarded by operators before they join; every topic
 * handler checks the author itself) — and, above all, may never send a task response. A
 * stranger keeps even that only while it keeps using it (see `unknownPeerGraceMs`). Limits are
 * per peer and far above honest use: an operator joins once per start, syncs on epoch changes,
 * and sends one response per task round it is selected for (1000/s leaves room for the
 * benchmark's peak rates).
 */
export const REGISTRY_GUARD_OPTIONS: PeerGuardOptions = {
  ...DEFAULT_PEER_GUARD_OPTIONS,
  openChannels: [
    PROTOCOLS.join,
    PROTOCOLS.health,
    PROTOCOLS.sync,
    TOPICS.task,
    TOPICS.result,
    TOPICS.epoch,
    TOPICS.registry,
  ],
  rateLimits: {
    [PROTOCOLS.join]: { ratePerSec: 2, burst: 10 },
    [PROTOCOLS.sync]: { ratePerSec: 10, burst: 40 },
    [PROTOCOLS.health]: { ratePerSec: 10, burst: 40 },
    [PROTOCOLS.response]: { ratePerSec: 1000, burst: 2000 },
  },
};

/**
 * The operator's policy. Operators admit their configured registries and the operators a registry
 * named when they joined (discovery). Everyone else is a stranger, admitted only within a small
 * shared allowance (`strangerAdmissions`): the operator's view of the operator set lags the
 * registry's (an operator that joins after us is unknown until it dials us), so refusing all
 * strangers would keep honest newcomers out of our part of the gossip mesh — which costs little,
 * since every operator is connected to the registries that publish the tasks — while admitting
 * all of them lets a sybil flood of fresh identities cost every operator a muxer, identify,
 * gossip streams and a signature check per message (measured: the main cost of the bench's
 * flood, `bench/flood-worker.ts`). With the allowance a flood costs one handshake per identity
 * past it, and an honest newcomer waits at most until the flood stops. Admitted strangers are
 * judged per message: tasks and epoch states only from configured registries (StrictSign makes
 * the author unforgeable; one task from anyone else bans at once), the epoch window, per-peer
 * rate limits, gossipsub scoring, and the blacklist that bans and hangs up on repeat offenders.
 * Registries are never banned by an operator.
 */
export const OPERATOR_GUARD_OPTIONS: PeerGuardOptions = {
  ...DEFAULT_PEER_GUARD_OPTIONS,
  openChannels: [PROTOCOLS.health, TOPICS.task, TOPICS.result, TOPICS.epoch, TOPICS.registry],
  rateLimits: {
    [PROTOCOLS.health]: { ratePerSec: 10, burst: 40 },
    [TOPICS.task]: { ratePerSec: 1000, burst: 2000 },
    [TOPICS.epoch]: { ratePerSec: 10, burst: 40 },
  },
  // StrictSign makes the author of a task unforgeable, and only registries author tasks: one
  // task from anyone else is proof enough, and each one let through costs every operator a
  // signature check and a decode.
  banAtOnce: ['not_registry'],
  strangerAdmissions: { ratePerSec: 1, burst: 10 },
};
