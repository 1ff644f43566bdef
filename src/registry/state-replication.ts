import type { Hex } from 'viem';
import { MISSES_BEFORE_SUSPENSION } from '../core/operator-counters.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import {
  type GossipMessage,
  type GossipVerdict,
  type Network,
  type PeerId,
  PROTOCOLS,
  TOPICS,
} from '../ports/network.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { type EpochStateMessage, encodeEpochState } from '../wire/epoch.ts';
import { GossipRuleError, toGossipVerdict } from '../wire/gossip-verdict.ts';
import type { JoinRequestMessage, JoinResponseMessage } from '../wire/join.ts';
import {
  decodeRegistryAnnouncement,
  encodeRegistryAnnouncement,
  MAX_REGISTRY_ANNOUNCEMENT_BYTES,
} from '../wire/registry.ts';
import {
  decodeSyncResponse,
  encodeSyncRequest,
  MAX_SYNC_RESPONSE_BYTES,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from '../wire/sync.ts';
import { RegistryConfigError } from './errors.ts';
import type { JoinLog } from './join-log.ts';
import { epochStateHash } from './state-hash.ts';

/** Another registry node of the same deployment: where to dial it, and who it is. */
export interface RegistryPeer {
  readonly peerId: PeerId;
  /** A multiaddr ending in `/p2p/<peer id>`. */
  readonly address: string;
}

export interface StateReplicationDeps {
  network: Pick<
    Network,
    | 'dial'
    | 'connectedPeers'
    | 'request'
    | 'publish'
    | 'peerId'
    | 'subscribe'
    | 'unsubscribe'
    | 'listenAddresses'
  >;
  store: RegistryStore;
  clock: Clock;
  log: Logger;
  advancer: {
    currentEpoch(): number | undefined;
    onEpochAdvanced(listener: (advanced: { epoch: number }) => void): () => void;
  };
  /** Join replication: the local join log, and the join service's path for a forwarded join. */
  joins?: {
    log: Pick<JoinLog, 'latestSeq' | 'isNewer'>;
    apply(join: JoinRequestMessage): Promise<JoinResponseMessage>;
  };
}

export interface StateReplicationOptions {
  /** The other registries (not this one). Empty: a single-registry deployment, nothing to do. */
  peers: readonly RegistryPeer[];
  /** How often an epoch not yet confirmed by a majority is compared again. */
  checkIntervalMs: number;
  /** One sync exchange with a peer, dial included. */
  requestTimeoutMs: number;
}

/** Pages of facts one pull takes from a peer before leaving the rest to the next one. */
const MAX_PAGES_PER_PULL = 8;
/** Every this many timer ticks, facts are pulled from every peer, announced or not. */
const FULL_PULL_EVERY_TICKS = 5;
/** Replicated joins refused only because the operator is not known here yet, kept for a retry. */
const MAX_DEFERRED_JOINS = 1_024;

export const DEFAULT_STATE_REPLICATION_OPTIONS: Omit<StateReplicationOptions, 'peers'> = {
  checkIntervalMs: 2_000,
  requestTimeoutMs: 3_000,
};

/**
 * `unchecked`: the latest epoch has not been confirmed by a majority yet (peers not reached, or
 * not advanced that far); `agreed`: a strict majority of the registries holds our hash;
 * `diverged`: a majority holds another hash and the repair has not succeeded yet.
 */
export type ReplicationStatus = 'single' | 'unchecked' | 'agreed' | 'diverged';

export interface ReplicationStats {
  readonly status: ReplicationStatus;
  /** The latest epoch compared, if any. */
  readonly epoch: number | undefined;
  readonly localStateHash: Hex | undefined;
  readonly divergencesDetected: number;
  readonly divergencesRepaired: number;
  /** Operator facts pulled from other registries that were new here. */
  readonly factsMerged: number;
  /** Signed joins pulled from other registries and applied here. */
  readonly joinsApplied: number;
}

export interface StateReplication {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): ReplicationStats;
  /** True while this registry knows its latest epoch disagrees with the majority. */
  diverged(): boolean;
  /** Compares the latest epoch now (also runs on every advance and on a timer). */
  checkNow(): Promise<void>;
  /** Pulls operator facts from every reachable registry now (also runs on a timer). */
  syncFactsNow(): Promise<void>;
}

interface Vote {
  readonly peer: PeerId;
  readonly hash: Hex;
  readonly state: EpochStateMessage;
}

/** One kind of paged anti-entropy pull over `/spotted/sync/1` (facts, joins). */
interface PagedPull {
  /** Per peer: the position after which the next page starts. */
  cursors: Map<PeerId, number>;
  request(after: number): SyncRequestMessage;
  page(answer: SyncResponseMessage): { next: number | undefined; more: boolean | undefined };
  apply(answer: SyncResponseMessage): Promise<void>;
}

/**
 * State-hash comparison and repair between registries (src/registry/README.md "Replication").
 * After each epoch advance (and every `checkIntervalMs` until settled) it asks every other
 * registry over `/spotted/sync/1` for the state of the same epoch, with its own hash in the
 * request. Each answer for that epoch whose epoch state hashes to the hash it claims is a vote;
 * this registry votes for its own hash. When a strict majority of all registries (this one
 * included, answering or not) holds another hash, the local epoch state, snapshot and the
 * operators' chain fields are replaced by the majority's in one transaction, the repaired state
 * is published again on `/spotted/epoch/1`, and detection and repair are logged and counted.
 * Until a repair succeeds the node reports `diverged` (the aggregator refuses requests then).
 *
 * Each comparison also announces `(epoch, state hash)` on `/spotted/registry/1`; an announcement
 * from another registry for our latest epoch with another hash (or for a later epoch) triggers a
 * comparison at once instead of at the next timer tick. Announcements are only a trigger: what
 * counts is always what the peers answer over `/spotted/sync/1`.
 */
export function createStateReplication(
  deps: StateReplicationDeps,
  options: StateReplicationOptions,
): StateReplication {
  checkOptions(options);
  const { network, store, clock, advancer } = deps;
  const log = deps.log.child('replication');
  const peers = [...options.peers];
  const registryCount = peers.length + 1;
  let status: ReplicationStatus = peers.length === 0 ? 'single' : 'unchecked';
  let comparedEpoch: number | undefined;
  let localHash: Hex | undefined;
  let settledEpoch: number | undefined;
  let detectedEpoch: number | undefined;
  let divergencesDetected = 0;
  let divergencesRepaired = 0;
  let running: Promise<void> | undefined;
  let started = false;
  let timer: TimerHandle | undefined;
  let unsubscribe: (() => void) | undefined;
  let announced: { epoch: number; hash: Hex; factsSeq: number; joinsSeq: number } | undefined;
  /** Aborted by stop(): in-flight dials and requests end at once instead of at their timeout. */
  let stopping = new AbortController();
  const peerIds = new Set(peers.map((peer) => peer.peerId));
  /** Per peer: the last fact sequence pulled (its local numbering; memory only, 0 after a restart). */
  const factCursors = new Map<PeerId, number>();
  /** Per peer: the latest fact sequence it announced. */
  const announcedFactSeqs = new Map<PeerId, number>();
  const pulling = new Map<PeerId, Promise<void>>();
  let factsMerged = 0;
  let ticks = 0;
  /** Per peer: the last join sequence pulled (its memory-only numbering). */
  const joinCursors = new Map<PeerId, number>();
  const announcedJoinSeqs = new Map<PeerId, number>();
  const pullingJoins = new Map<PeerId, Promise<void>>();
  /** By operator address (lower case): replicated joins for operators not registered here yet. */
  const deferredJoins = new Map<string, JoinRequestMessage>();
  let joinsApplied = 0;

  function onAnnouncement(message: GossipMessage): GossipVerdict {
    try {
      if (!peerIds.has(message.from)) {
        throw new GossipRuleError(
          'UNKNOWN_SENDER',
          'RegistryAnnouncement',
          `published by ${message.from}, which is not a configured registry`,
        );
      }
      const announcement = decodeRegistryAnnouncement(message.data);
      if (announcement.peerId !== message.from) {
        throw new GossipRuleError(
          'UNKNOWN_SENDER',
          'RegistryAnnouncement',
          `names peer ${announcement.peerId} but was published by ${message.from}`,
        );
      }
      const differs =
        comparedEpoch === undefined ||
        announcement.epoch > comparedEpoch ||
        (announcement.epoch === comparedEpoch && announcement.stateHash !== localHash);
      if (differs && announcement.epoch !== settledEpoch) void checkNow();
      const factsSeq = announcement.factsSeq ?? 0;
      announcedFactSeqs.set(message.from, factsSeq);
      const peer = peers.find((candidate) => candidate.peerId === message.from);
      if (peer !== undefined && factsSeq > (factCursors.get(peer.peerId) ?? 0)) {
        void pullFacts(peer);
      }
      const joinsSeq = announcement.joinsSeq ?? 0;
      announcedJoinSeqs.set(message.from, joinsSeq);
      // A join sequence below our cursor: the peer restarted (its numbering is memory only).
      if (joinsSeq < (joinCursors.get(message.from) ?? 0)) joinCursors.set(message.from, 0);
      if (peer !== undefined && joinsSeq > (joinCursors.get(peer.peerId) ?? 0)) {
        void pullJoins(peer);
      }
      return 'accept';
    } catch (error) {
      log.debug('registry announcement refused', { from: message.from, error: String(error) });
      return toGossipVerdict(error);
    }
  }

  async function announce(epoch: number, hash: Hex): Promise<void> {
    const factsSeq = await store.operatorFacts.latestSeq();
    const joinsSeq = deps.joins?.log.latestSeq() ?? 0;
    if (
      announced?.epoch === epoch &&
      announced.hash === hash &&
      announced.factsSeq === factsSeq &&
      announced.joinsSeq === joinsSeq
    )
      return;
    announced = { epoch, hash, factsSeq, joinsSeq };
    await network
      .publish(
        TOPICS.registry,
        encodeRegistryAnnouncement({
          peerId: network.peerId,
          addresses: network.listenAddresses().slice(0, 8),
          epoch,
          stateHash: hash,
          factsSeq,
          joinsSeq,
        }),
      )
      .catch((error: unknown) =>
        log.debug('registry announcement not published', { error: String(error) }),
      );
  }

  async function askPeer(peer: RegistryPeer, epoch: number, hash: Hex, signal: AbortSignal) {
    if (!network.connectedPeers().includes(peer.peerId)) {
      await network.dial(peer.address, { signal });
    }
    const bytes = await network.request(
      peer.peerId,
      PROTOCOLS.sync,
      encodeSyncRequest({ fromEpoch: epoch, stateHash: hash }),
      { timeoutMs: options.requestTimeoutMs, maxResponseBytes: MAX_SYNC_RESPONSE_BYTES, signal },
    );
    return decodeSyncResponse(bytes);
  }

  /** The answer as a vote for `epoch`, or why it is none. */
  function voteOf(peer: PeerId, epoch: number, answer: SyncResponseMessage): Vote | string {
    const state = answer.latestEpoch;
    if (state === null) return 'no epoch yet';
    if (state.epoch !== epoch) return `at epoch ${state.epoch}`;
    if (answer.stateHash === null) return 'no state hash';
    const computed = epochStateHash(state, state.operators);
    if (computed !== answer.stateHash)
      return `claims ${answer.stateHash} but its state hashes to ${computed}`;
    return { peer, hash: computed, state };
  }

  async function compare(): Promise<void> {
    if (peers.length === 0) return;
    const latest = await store.epochStates.getLatest();
    if (latest === undefined || latest.epoch === settledEpoch) return;
    const epoch = latest.epoch;
    const hash = epochStateHash(latest, await store.epochOperators.list(epoch));
    comparedEpoch = epoch;
    localHash = hash;
    await announce(epoch, hash);
    const votes: Vote[] = [];
    const signal = stopping.signal;
    for (const peer of peers) {
      if (signal.aborted) return;
      try {
        const vote = voteOf(peer.peerId, epoch, await askPeer(peer, epoch, hash, signal));
        if (typeof vote === 'string') {
          log.debug('no vote from a registry', { peer: peer.peerId, epoch, reason: vote });
        } else {
          votes.push(vote);
        }
      } catch (error) {
        log.debug('registry not reached', { peer: peer.peerId, epoch, error: String(error) });
      }
    }
    if (!started) return;
    const tally = new Map<Hex, number>([[hash, 1]]);
    for (const vote of votes) tally.set(vote.hash, (tally.get(vote.hash) ?? 0) + 1);
    const majority = [...tally.entries()].find(([, count]) => count * 2 > registryCount);
    if (majority === undefined) {
      status = status === 'diverged' ? 'diverged' : 'unchecked';
      log.debug('no majority yet', { epoch, votes: votes.length + 1, registries: registryCount });
      return;
    }
    const [majorityHash, count] = majority;
    if (majorityHash === hash) {
      status = 'agreed';
      settledEpoch = epoch;
      log.debug('state hash agreed', { epoch, stateHash: hash, agreeing: count });
      return;
    }
    status = 'diverged';
    if (detectedEpoch !== epoch) {
      detectedEpoch = epoch;
      divergencesDetected += 1;
      log.warn('state divergence detected', {
        epoch,
        localStateHash: hash,
        majorityStateHash: majorityHash,
        agreeing: count,
        registries: registryCount,
      });
    }
    const source = votes.find((vote) => vote.hash === majorityHash);
    if (source === undefined) return;
    await repair(source);
  }

  async function repair(source: Vote): Promise<void> {
    const { state } = source;
    const row = {
      epoch: state.epoch,
      startBlock: state.startBlock,
      minimumWeightWei: state.minimumWeightWei,
      totalWeightWei: state.totalWeightWei,
      thresholdWeightWei: state.thresholdWeightWei,
    };
    const repaired = await store.transaction(async (tx) => {
      const latest = await tx.epochStates.getLatest();
      // An advance landed meanwhile: the next comparison looks at the new epoch instead.
      if (latest === undefined || latest.epoch !== state.epoch) return false;
      const known = new Set((await tx.operators.list()).map((op) => op.address.toLowerCase()));
      const entries = state.operators.filter((entry) => known.has(entry.operator.toLowerCase()));
      if (entries.length !== state.operators.length) return false;
      await tx.epochStates.put(row);
      await tx.epochOperators.snapshot(state.epoch, entries);
      for (const entry of entries) {
        await tx.operators.update(entry.operator, {
          weightWei: entry.weightWei,
          signingKey: entry.signingKey,
        });
      }
      return true;
    });
    if (!repaired) {
      log.warn('state repair deferred', {
        epoch: state.epoch,
        from: source.peer,
        reason: 'a newer epoch or an operator this registry has not seen yet',
      });
      return;
    }
    divergencesRepaired += 1;
    status = 'agreed';
    settledEpoch = state.epoch;
    localHash = source.hash;
    log.warn('state repaired', {
      epoch: state.epoch,
      stateHash: source.hash,
      from: source.peer,
      operators: state.operators.length,
    });
    await announce(state.epoch, source.hash);
    await network
      .publish(TOPICS.epoch, encodeEpochState({ ...state, publishedAtMs: clock.now() }))
      .catch((error: unknown) =>
        log.warn('could not republish the repaired epoch', { error: String(error) }),
      );
  }

  /**
   * Anti-entropy: pages through the peer's operator facts after our cursor for it and merges
   * them (set union; the counters and suspensions are derived again in the same transaction).
   */
  function pullFacts(peer: RegistryPeer): Promise<void> {
    return pullOncePerPeer(pulling, peer, 'facts', {
      cursors: factCursors,
      request: (after) => ({ fromEpoch: 0, stateHash: null, wantFacts: true, factsAfter: after }),
      page: (answer) => ({ next: answer.factsNext, more: answer.factsMore }),
      apply: async (answer) => {
        const facts = answer.facts ?? [];
        if (facts.length === 0) return;
        const merged = await store.operatorFacts.merge(facts, {
          suspendAtMisses: MISSES_BEFORE_SUSPENSION,
        });
        factsMerged += merged.added;
        if (merged.added > 0) {
          log.info('operator facts merged', {
            from: peer.peerId,
            received: facts.length,
            added: merged.added,
          });
        }
        for (const operator of merged.changed) {
          log.warn('operator status changed by replicated facts', {
            operator: operator.address,
            status: operator.status,
            missing: operator.missing,
          });
        }
      },
    });
  }

  /**
   * Join replication: pages through the peer's latest signed joins after our cursor and hands
   * each one newer than ours to the join service, which verifies the operator's signature against
   * this registry's own key for it and applies it like a direct join. A join refused because the
   * operator is not registered here yet (our watcher is behind) is kept and retried every tick.
   */
  function pullJoins(peer: RegistryPeer): Promise<void> {
    if (deps.joins === undefined) return Promise.resolve();
    return pullOncePerPeer(pullingJoins, peer, 'joins', {
      cursors: joinCursors,
      request: (after) => ({ fromEpoch: 0, stateHash: null, wantJoins: true, joinsAfter: after }),
      page: (answer) => ({ next: answer.joinsNext, more: answer.joinsMore }),
      apply: async (answer) => {
        for (const join of answer.joins ?? []) await applyJoin(join, peer.peerId);
      },
    });
  }

  /**
   * One paged pull per peer at a time (a call while one runs shares it): at most
   * `MAX_PAGES_PER_PULL` pages after the peer's cursor, the rest at the next pull.
   */
  function pullOncePerPeer(
    inFlight: Map<PeerId, Promise<void>>,
    peer: RegistryPeer,
    what: string,
    pull: PagedPull,
  ): Promise<void> {
    const running = inFlight.get(peer.peerId);
    if (running !== undefined) return running;
    const run = pullPages(peer, pull)
      .catch((error: unknown) =>
        log.debug(`${what} not pulled`, { peer: peer.peerId, error: String(error) }),
      )
      .finally(() => inFlight.delete(peer.peerId));
    inFlight.set(peer.peerId, run);
    return run;
  }

  async function pullPages(peer: RegistryPeer, pull: PagedPull): Promise<void> {
    const signal = stopping.signal;
    for (let page = 0; page < MAX_PAGES_PER_PULL && started && !signal.aborted; page++) {
      if (!network.connectedPeers().includes(peer.peerId)) {
        await network.dial(peer.address, { signal });
      }
      const after = pull.cursors.get(peer.peerId) ?? 0;
      const bytes = await network.request(
        peer.peerId,
        PROTOCOLS.sync,
        encodeSyncRequest(pull.request(after)),
        { timeoutMs: options.requestTimeoutMs, maxResponseBytes: MAX_SYNC_RESPONSE_BYTES, signal },
      );
      const answer = decodeSyncResponse(bytes);
      if (!started) return;
      await pull.apply(answer);
      const { next = after, more } = pull.page(answer);
      if (next > after) pull.cursors.set(peer.peerId, next);
      if (more !== true || next <= after) return;
    }
  }

  async function applyJoin(join: JoinRequestMessage, from: PeerId | undefined): Promise<void> {
    const joins = deps.joins;
    if (joins === undefined || !joins.log.isNewer(join)) return;
    const result = await joins.apply(join);
    const key = join.operator.toLowerCase();
    if (result.accepted) {
      deferredJoins.delete(key);
      joinsApplied += 1;
      log.debug('replicated join pulled', {
        operator: join.operator,
        ...(from === undefined ? { deferred: true } : { from }),
      });
      return;
    }
    if (result.reason === 'notRegistered') {
      const current = deferredJoins.get(key);
      if (current !== undefined || deferredJoins.size < MAX_DEFERRED_JOINS) {
        deferredJoins.set(key, join);
      }
    } else {
      deferredJoins.delete(key);
    }
  }

  async function retryDeferredJoins(): Promise<void> {
    for (const join of [...deferredJoins.values()]) {
      if (!started) return;
      await applyJoin(join, undefined);
    }
  }

  /**
   * Announces our fact sequence when it moved (peers behind it pull), pulls from peers that
   * announced more than we have, and from every peer every `FULL_PULL_EVERY_TICKS` ticks
   * (anti-entropy after a lost announcement, a restart or a partition).
   */
  async function syncFacts(everyPeer: boolean): Promise<void> {
    if (!started) return;
    if (comparedEpoch !== undefined && localHash !== undefined) {
      await announce(comparedEpoch, localHash);
    }
    await Promise.all(
      peers
        .filter(
          (peer) =>
            everyPeer ||
            (announcedFactSeqs.get(peer.peerId) ?? 0) > (factCursors.get(peer.peerId) ?? 0),
        )
        .map((peer) => pullFacts(peer)),
    );
    if (deps.joins === undefined) return;
    await retryDeferredJoins();
    await Promise.all(
      peers
        .filter(
          (peer) =>
            everyPeer ||
            (announcedJoinSeqs.get(peer.peerId) ?? 0) > (joinCursors.get(peer.peerId) ?? 0),
        )
        .map((peer) => {
          // A full pull starts over: join numbering is memory only, so a peer that restarted
          // and already passed our cursor would otherwise never be read from the start.
          if (everyPeer) joinCursors.set(peer.peerId, 0);
          return pullJoins(peer);
        }),
    );
  }

  async function checkNow(): Promise<void> {
    if (!started) return;
    running ??= compare()
      .catch((error: unknown) => log.error('state comparison failed', { error: String(error) }))
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  function schedule() {
    if (!started) return;
    timer = clock.setTimer(options.checkIntervalMs, () => {
      timer = undefined;
      ticks += 1;
      void checkNow()
        .then(() => syncFacts(ticks % FULL_PULL_EVERY_TICKS === 1))
        .catch((error: unknown) => log.error('fact sync failed', { error: String(error) }))
        .finally(schedule);
    });
  }

  return {
    async start() {
      if (started || peers.length === 0) return;
      started = true;
      stopping = new AbortController();
      network.subscribe(TOPICS.registry, onAnnouncement, {
        maxMessageBytes: MAX_REGISTRY_ANNOUNCEMENT_BYTES,
      });
      unsubscribe = advancer.onEpochAdvanced(() => {
        void checkNow();
      });
      schedule();
    },
    async stop() {
      if (!started) return;
      started = false;
      unsubscribe?.();
      unsubscribe = undefined;
      network.unsubscribe(TOPICS.registry);
      announced = undefined;
      timer?.cancel();
      timer = undefined;
      stopping.abort(new Error('state replication stopped'));
      await running;
      await Promise.all([...pulling.values(), ...pullingJoins.values()]);
      factCursors.clear();
      announcedFactSeqs.clear();
      joinCursors.clear();
      announcedJoinSeqs.clear();
    },
    stats: () => ({
      status,
      epoch: comparedEpoch,
      localStateHash: localHash,
      divergencesDetected,
      divergencesRepaired,
      factsMerged,
      joinsApplied,
    }),
    diverged: () => status === 'diverged',
    checkNow,
    syncFactsNow: () => syncFacts(true),
  };
}

function checkOptions(options: StateReplicationOptions): void {
  for (const field of ['checkIntervalMs', 'requestTimeoutMs'] as const) {
    if (!Number.isSafeInteger(options[field]) || options[field] <= 0) {
      throw new RegistryConfigError(
        `replication.${field}`,
        `must be a positive integer, got ${options[field]}`,
      );
    }
  }
  const seen = new Set<PeerId>();
  for (const [index, peer] of options.peers.entries()) {
    if (seen.has(peer.peerId)) {
      throw new RegistryConfigError(
        `replication.peers[${index}]`,
        `peer ${peer.peerId} is listed twice`,
      );
    }
    seen.add(peer.peerId);
  }
}
