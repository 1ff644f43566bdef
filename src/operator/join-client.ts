import { type Address, bytesToHex } from 'viem';
import { addressKey, sameAddress } from '../core/address.ts';
import type { OperatorStatus } from '../core/operator-status.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { MainChain } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import {
  type GossipMessage,
  type GossipVerdict,
  type Network,
  type PeerId,
  PROTOCOLS,
  TOPICS,
} from '../ports/network.ts';
import type { Rng } from '../ports/rng.ts';
import { joinDigest } from '../protocol/join-digest.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import type { PeerInput } from '../store/operator/peer-cache.ts';
import {
  decodeJoinResponse,
  encodeJoinRequest,
  JOIN_NONCE_BYTES,
  type JoinRejectReasonName,
  type JoinResponseMessage,
  MAX_JOIN_RESPONSE_BYTES,
  type PeerInfoMessage,
} from '../wire/join.ts';
import { MAX_REGISTRY_ANNOUNCEMENT_BYTES } from '../wire/registry.ts';
import { type BackoffPolicy, backoffDelayMs, checkBackoffPolicy } from './backoff.ts';
import { OperatorConfigError } from './errors.ts';
import type { KeyRing } from './key-ring.ts';
import {
  createBackgroundWork,
  describeError,
  forEachLimited,
  isAbortOf,
  sleepUnlessAborted,
  timeoutSignal,
} from './lifecycle.ts';
import { putLocalOperatorIfChanged } from './local-operator-record.ts';
import type { RegistryBootstrap } from './registry-peers.ts';

/**
 * The join client (SPEC §3, docs/node-architecture.md "Join"): for every configured registry it
 * dials the bootstrap address, sends a JoinRequest signed over the join digest with the
 * operator's current signing key, and retries with bounded backoff until the registry accepts or
 * refuses for good. NOT_REGISTERED is retried slowly (the registry may not have confirmed the
 * registration yet); SUSPENDED and DEREGISTERED end the loop and are reported. On acceptance it
 * stores status and epochs in `local_operator` (when they changed), then dials (a bounded number
 * of) the discovery peers it got back and records them and the registry in `peer_cache`, in one
 * write (an unchanged entry is rewritten at most once a minute). It then watches the connection:
 * when the registry goes away (restart, crash, network cut) it joins again, so the registry's
 * gossip and tasks reach the node once more without a restart of the operator.
 */

export interface JoinClientDeps {
  clock: Clock;
  rng: Rng;
  network: Network;
  mainChain: MainChain;
  store: OperatorStore;
  secp256k1: Secp256k1;
  keyRing: KeyRing;
  log: Logger;
}

export interface JoinClientOptions {
  operator: Address;
  registries: readonly RegistryBootstrap[];
  /** One join exchange, dial excluded. */
  requestTimeoutMs: number;
  /** `expiresAtMs = now + this`; the registry refuses more than 5 minutes ahead. */
  joinExpiryMs: number;
  /** Between attempts after a network failure, a malformed answer or a transient refusal. */
  retry: BackoffPolicy;
  /** Between attempts while the registry answers NOT_REGISTERED (it may still be confirming). */
  notRegisteredRetry: BackoffPolicy;
  /** Discovery peers dialed in total, over all registries. */
  maxDiscoveryDials: number;
  discoveryDialConcurrency: number;
  /** One discovery dial, all of a peer's addresses together. */
  discoveryDialTimeoutMs: number;
}

export const DEFAULT_JOIN_CLIENT_OPTIONS: Omit<JoinClientOptions, 'operator' | 'registries'> = {
  requestTimeoutMs: 5_000,
  joinExpiryMs: 60_000,
  retry: { initialDelayMs: 500, maxDelayMs: 30_000, multiplier: 2, jitterRatio: 0.2 },
  notRegisteredRetry: {
    initialDelayMs: 5_000,
    maxDelayMs: 60_000,
    multiplier: 2,
    jitterRatio: 0.2,
  },
  maxDiscoveryDials: 32,
  discoveryDialConcurrency: 4,
  discoveryDialTimeoutMs: 5_000,
};

/** Refusals after which asking again cannot help until an admin or the chain changes something. */
export type FinalJoinRefusal = Extract<JoinRejectReasonName, 'suspended' | 'deregistered'>;

export type RegistryJoinState =
  | { readonly phase: 'joining'; readonly attempts: number; readonly lastProblem: string | null }
  | {
      readonly phase: 'joined';
      readonly status: OperatorStatus;
      readonly activeEpoch: number;
      readonly currentEpoch: number;
      /** The signing key the accepted request was signed with. */
      readonly signingKey: Address;
      readonly joinedAtMs: number;
    }
  | { readonly phase: 'refused'; readonly reason: FinalJoinRefusal; readonly detail: string };

/** All registries at a glance: joined once any accepted; refused once any refused for good. */
export type JoinSummary =
  | { readonly phase: 'idle' | 'joining' }
  | {
      readonly phase: 'joined';
      readonly registry: PeerId;
      readonly status: OperatorStatus;
      readonly activeEpoch: number;
      readonly currentEpoch: number;
    }
  | {
      readonly phase: 'refused';
      readonly registry: PeerId;
      readonly reason: FinalJoinRefusal;
      readonly detail: string;
    };

export interface JoinClient {
  start(): Promise<void>;
  stop(): Promise<void>;
  summary(): JoinSummary;
  registryStates(): ReadonlyMap<PeerId, RegistryJoinState>;
  /** Whether a registry named `peer` as a joined operator's peer (discovery, bounded). */
  isDiscoveryPeer(peer: PeerId): boolean;
  /** Called after every change of a registry's state; returns an unsubscribe function. */
  onChange(listener: (registry: PeerId, state: RegistryJoinState) => void): () => void;
}

type AttemptOutcome =
  | {
      kind: 'accepted';
      response: Extract<JoinResponseMessage, { accepted: true }>;
      signingKey: Address;
    }
  | { kind: 'rejected'; reason: JoinRejectReasonName; detail: string }
  | { kind: 'failed'; problem: string };

export function createJoinClient(deps: JoinClientDeps, options: JoinClientOptions): JoinClient {
  checkJoinClientOptions(options);
  const { clock, rng, network, mainChain, store, keyRing } = deps;
  const log = deps.log.child('join');
  const states = new Map<PeerId, RegistryJoinState>(
    options.registries.map((registry) => [
      registry.peerId,
      { phase: 'joining', attempts: 0, lastProblem: null },
    ]),
  );
  const listeners = new Set<(registry: PeerId, state: RegistryJoinState) => void>();
  /** Peers dialed through discovery (or being dialed), bounded by maxDiscoveryDials. */
  const discovered = new Set<PeerId>();
  const registryPeerIds = new Set(options.registries.map((registry) => registry.peerId));
  let controller: AbortController | undefined;
  let started = false;
  /** Join loops waiting for their registry's connection to drop. */
  const disconnectWaiters = new Map<PeerId, () => void>();
  /** Per registry: ends its join loop's backoff wait early (it is reachable again). */
  const wakers = new Map<PeerId, () => void>();
  const registryIds = new Set(options.registries.map((registry) => registry.peerId));
  /** What this client last wrote to `peer_cache` per peer (see cachePeers). */
  const cachedPeers = new Map<PeerId, PeerInput>();
  const work = createBackgroundWork((name, error) =>
    log.error('join loop failed', { registry: name, error: describeError(error) }),
  );

  const setState = (registry: PeerId, state: RegistryJoinState) => {
    states.set(registry, state);
    for (const listener of listeners) {
      try {
        listener(registry, state);
      } catch (error) {
        log.error('join listener threw', { error: describeError(error) });
      }
    }
  };

  /** The ring's keys, the one the chain names for the operator first (the registry holds that one). */
  async function keyCandidates(): Promise<Address[]> {
    const ring = [...keyRing.signingKeys];
    if (ring.length === 1) return ring;
    try {
      const currentEpoch = await mainChain.getCurrentEpoch();
      // Registered and current: the key at this epoch. Registered for a later epoch (effective
      // epoch + 1 or + 2): the key the registration event named, i.e. the key at that epoch.
      for (const epoch of [currentEpoch, currentEpoch + 1, currentEpoch + 2]) {
        const onChain = await mainChain.getOperatorSigningKeyAtEpoch({
          operator: options.operator,
          epoch,
        });
        if (keyRing.has(onChain)) {
          return [onChain, ...ring.filter((key) => !sameAddress(key, onChain))];
        }
      }
      log.warn('the chain names no signing key this node holds; trying each key', {
        operator: options.operator,
        currentEpoch,
      });
    } catch (error) {
      log.warn('could not read the signing key from the chain; trying each key', {
        error: describeError(error),
      });
    }
    return ring;
  }

  async function attempt(
    registry: RegistryBootstrap,
    keyOffset: number,
    signal: AbortSignal,
  ): Promise<AttemptOutcome> {
    if (!network.connectedPeers().includes(registry.peerId)) {
      try {
        await network.dial(registry.address, { signal });
      } catch (error) {
        if (signal.aborted) throw error;
        return { kind: 'failed', problem: `dial ${registry.address}: ${describeError(error)}` };
      }
    }
    const candidates = await keyCandidates();
    const signingKey = candidates[keyOffset % candidates.length] as Address;
    const nonce = bytesToHex(rng.bytes(JOIN_NONCE_BYTES));
    const expiresAtMs = clock.now() + options.joinExpiryMs;
    const digest = joinDigest({
      operator: options.operator,
      peerId: network.peerId,
      nonce,
      expiresAtMs,
    });
    const signature = keyRing.signWith(signingKey, digest);
    if (signature === undefined) throw new Error(`key ring lost ${signingKey}`);
    const request = encodeJoinRequest({
      operator: options.operator,
      peerId: network.peerId,
      nonce,
      expiresAtMs,
      signature,
      listenAddresses: network.listenAddresses().slice(0, 8),
    });
    let response: JoinResponseMessage;
    try {
      const bytes = await network.request(registry.peerId, PROTOCOLS.join, request, {
        timeoutMs: options.requestTimeoutMs,
        maxResponseBytes: MAX_JOIN_RESPONSE_BYTES,
        signal,
      });
      response = decodeJoinResponse(bytes);
    } catch (error) {
      if (signal.aborted) throw error;
      return { kind: 'failed', problem: `join request: ${describeError(error)}` };
    }
    if (!response.accepted) {
      return { kind: 'rejected', reason: response.reason, detail: response.detail };
    }
    return { kind: 'accepted', response, signingKey };
  }

  /** Resolves true once `registry` is no longer connected, false when the client stops. */
  function untilDisconnected(registry: PeerId, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      const done = (lost: boolean) => {
        disconnectWaiters.delete(registry);
        signal.removeEventListener('abort', onAbort);
        resolve(lost);
      };
      const onAbort = () => done(false);
      signal.addEventListener('abort', onAbort, { once: true });
      disconnectWaiters.set(registry, () => done(true));
      // It may have dropped between the answer and now.
      if (!network.connectedPeers().includes(registry)) done(true);
    });
  }

  async function joinLoop(registry: RegistryBootstrap, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await joinOnce(registry, signal))) return;
      if (!(await untilDisconnected(registry.peerId, signal))) return;
      log.warn('lost the connection to the registry; joining again', {
        registry: registry.peerId,
      });
      setState(registry.peerId, {
        phase: 'joining',
        attempts: 0,
        lastProblem: 'connection to the registry lost',
      });
    }
  }

  /** Joins `registry` once: true when accepted, false when refused for good or stopped. */
  async function joinOnce(registry: RegistryBootstrap, signal: AbortSignal): Promise<boolean> {
    let attempts = 0;
    let failures = 0;
    let notRegisteredRefusals = 0;
    let keyOffset = 0;
    while (!signal.aborted) {
      attempts += 1;
      const outcome = await attempt(registry, keyOffset, signal);
      if (outcome.kind === 'accepted') {
        await onAccepted(registry, outcome, signal);
        return true;
      }
      if (
        outcome.kind === 'rejected' &&
        (outcome.reason === 'suspended' || outcome.reason === 'deregistered')
      ) {
        log.error('the registry refused the join for good', {
          registry: registry.peerId,
          reason: outcome.reason,
          detail: outcome.detail,
        });
        setState(registry.peerId, {
          phase: 'refused',
          reason: outcome.reason,
          detail: outcome.detail,
        });
        return false;
      }
      let delayMs: number;
      let problem: string;
      if (outcome.kind === 'rejected' && outcome.reason === 'notRegistered') {
        notRegisteredRefusals += 1;
        delayMs = backoffDelayMs(options.notRegisteredRetry, notRegisteredRefusals, rng);
        problem = `notRegistered: ${outcome.detail}`;
        log.info('the registry does not know the operator yet; retrying', {
          registry: registry.peerId,
          delayMs,
        });
      } else {
        failures += 1;
        delayMs = backoffDelayMs(options.retry, failures, rng);
        if (outcome.kind === 'rejected') {
          // A wrong key may just be a rotation the registry has not applied yet: try the next one.
          if (outcome.reason === 'badSignature') keyOffset += 1;
          problem = `${outcome.reason}: ${outcome.detail}`;
        } else {
          problem = outcome.problem;
        }
        log.warn('join attempt failed; retrying', {
          registry: registry.peerId,
          problem,
          attempts,
          delayMs,
        });
      }
      setState(registry.peerId, { phase: 'joining', attempts, lastProblem: problem });
      if (!(await backOff(registry.peerId, delayMs, signal))) return false;
    }
    return false;
  }

  /**
   * Waits `delayMs` before the next join attempt, or less: a sign that the registry is back (it
   * connected to us, or announced itself on `/spotted/registry/1`) ends the wait at once, so a
   * registry that restarts is joined again within a round trip instead of after a backoff that
   * grew while it was down. False when the client stops.
   */
  async function backOff(registry: PeerId, delayMs: number, signal: AbortSignal): Promise<boolean> {
    const nap = new AbortController();
    const onAbort = () => nap.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    wakers.set(registry, () => nap.abort(new Error('registry reachable again')));
    try {
      await sleepUnlessAborted(clock, delayMs, nap.signal);
    } finally {
      wakers.delete(registry);
      signal.removeEventListener('abort', onAbort);
    }
    return !signal.aborted;
  }

  /** A configured registry published an announcement: it is up; wake its join loop if waiting. */
  function onRegistryAnnouncement(message: GossipMessage): GossipVerdict {
    if (!registryIds.has(message.from)) return 'ignore';
    wakers.get(message.from)?.();
    return 'accept';
  }

  async function onAccepted(
    registry: RegistryBootstrap,
    outcome: Extract<AttemptOutcome, { kind: 'accepted' }>,
    signal: AbortSignal,
  ): Promise<void> {
    const { response, signingKey } = outcome;
    const registryEntry: PeerInput = {
      peerId: registry.peerId,
      addresses: [registry.address],
      lastSeenAtMs: clock.now(),
      status: 'connected',
    };
    try {
      const existing = await store.localOperator.get();
      await putLocalOperatorIfChanged(store, existing, {
        address: options.operator,
        signingKey,
        activeEpoch: response.activeEpoch,
        status: response.status,
        weightWei: existing?.weightWei ?? 0n,
      });
    } catch (error) {
      // The registry has accepted: the node works on, only its local record is behind.
      log.error('could not record the join locally', { error: describeError(error) });
    }
    log.info('joined', {
      registry: registry.peerId,
      status: response.status,
      activeEpoch: response.activeEpoch,
      currentEpoch: response.currentEpoch,
      peers: response.peers.length,
    });
    setState(registry.peerId, {
      phase: 'joined',
      status: response.status,
      activeEpoch: response.activeEpoch,
      currentEpoch: response.currentEpoch,
      signingKey,
      joinedAtMs: clock.now(),
    });
    const dialed = await dialDiscoveryPeers(response.peers, signal);
    await cachePeers([registryEntry, ...dialed]);
  }

  /**
   * Records peers in `peer_cache`, in one statement, skipping those whose entry this client wrote
   * less than PEER_CACHE_REFRESH_MS ago with the same status, addresses and operator (a re-join
   * after a registry restart would otherwise rewrite the registry's entry every time).
   */
  async function cachePeers(peers: readonly PeerInput[]): Promise<void> {
    const nowMs = clock.now();
    const due = peers.filter((peer) => {
      const cached = cachedPeers.get(peer.peerId);
      return (
        cached === undefined ||
        nowMs - cached.lastSeenAtMs >= PEER_CACHE_REFRESH_MS ||
        !samePeerEntry(cached, peer)
      );
    });
    if (due.length === 0) return;
    try {
      await store.peerCache.upsertMany(due);
      for (const peer of due) cachedPeers.set(peer.peerId, peer);
    } catch (error) {
      log.warn('could not cache peers', {
        peers: due.map((peer) => peer.peerId),
        error: describeError(error),
      });
    }
  }

  /** Dials fresh discovery peers; returns their `peer_cache` entries (none once stopped). */
  async function dialDiscoveryPeers(
    peers: readonly PeerInfoMessage[],
    signal: AbortSignal,
  ): Promise<PeerInput[]> {
    const fresh: PeerInfoMessage[] = [];
    for (const peer of peers) {
      if (discovered.size >= options.maxDiscoveryDials) break;
      if (peer.peerId === network.peerId || registryPeerIds.has(peer.peerId)) continue;
      if (peer.addresses.length === 0 || discovered.has(peer.peerId)) continue;
      if (peer.operator !== null && addressKey(peer.operator) === addressKey(options.operator)) {
        continue; // an earlier session of this operator
      }
      discovered.add(peer.peerId);
      fresh.push(peer);
    }
    const dialed: PeerInput[] = [];
    await forEachLimited(fresh, options.discoveryDialConcurrency, async (peer) => {
      if (signal.aborted) return;
      const connected = await dialPeer(peer, signal);
      if (signal.aborted) return;
      dialed.push({
        peerId: peer.peerId,
        ...(peer.operator === null ? {} : { operatorAddress: peer.operator }),
        addresses: [...peer.addresses],
        lastSeenAtMs: clock.now(),
        status: connected ? 'connected' : 'disconnected',
      });
    });
    if (fresh.length > 0) log.info('discovery peers dialed', { peers: fresh.length });
    return signal.aborted ? [] : dialed;
  }

  async function dialPeer(peer: PeerInfoMessage, signal: AbortSignal): Promise<boolean> {
    const deadline = timeoutSignal(
      clock,
      signal,
      options.discoveryDialTimeoutMs,
      `dial ${peer.peerId}`,
    );
    try {
      for (const address of peer.addresses) {
        if (deadline.signal.aborted) return false;
        try {
          const reached = await network.dial(address, { signal: deadline.signal });
          if (reached === peer.peerId) return true;
          log.warn('discovery address led to another peer', {
            expected: peer.peerId,
            reached,
            address,
          });
          await network.hangUp(reached).catch(() => {});
        } catch (error) {
          if (signal.aborted) return false;
          log.debug('discovery dial failed', {
            peer: peer.peerId,
            address,
            error: describeError(error),
          });
        }
      }
      return false;
    } finally {
      deadline.dispose();
    }
  }

  return {
    async start() {
      if (started) return;
      started = true;
      const own = new AbortController();
      controller = own;
      network.setPeerEvents({
        onPeerDisconnected: (peer) => disconnectWaiters.get(peer)?.(),
        onPeerConnected: (peer) => wakers.get(peer)?.(),
      });
      network.subscribe(TOPICS.registry, onRegistryAnnouncement, {
        maxMessageBytes: MAX_REGISTRY_ANNOUNCEMENT_BYTES,
      });
      for (const registry of options.registries) {
        work.run(registry.peerId, async () => {
          try {
            await joinLoop(registry, own.signal);
          } catch (error) {
            if (!isAbortOf(own.signal, error)) throw error;
          }
        });
      }
    },

    async stop() {
      controller?.abort(new Error('join client stopped'));
      if (started) network.unsubscribe(TOPICS.registry);
      await work.settle();
      controller = undefined;
      started = false;
    },

    summary() {
      if (!started && [...states.values()].every((state) => state.phase === 'joining')) {
        return { phase: 'idle' };
      }
      for (const [registry, state] of states) {
        if (state.phase === 'refused') {
          return { phase: 'refused', registry, reason: state.reason, detail: state.detail };
        }
      }
      for (const [registry, state] of states) {
        if (state.phase === 'joined') {
          return {
            phase: 'joined',
            registry,
            status: state.status,
            activeEpoch: state.activeEpoch,
            currentEpoch: state.currentEpoch,
          };
        }
      }
      return { phase: 'joining' };
    },

    registryStates: () => states,
    isDiscoveryPeer: (peer) => discovered.has(peer),

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** A peer's unchanged `peer_cache` entry is rewritten (its last_seen_at moved) at most this often. */
export const PEER_CACHE_REFRESH_MS = 60_000;

function samePeerEntry(a: PeerInput, b: PeerInput): boolean {
  const aAddresses = a.addresses ?? [];
  const bAddresses = b.addresses ?? [];
  return (
    a.status === b.status &&
    (a.operatorAddress === undefined) === (b.operatorAddress === undefined) &&
    (a.operatorAddress === undefined ||
      b.operatorAddress === undefined ||
      sameAddress(a.operatorAddress, b.operatorAddress)) &&
    aAddresses.length === bAddresses.length &&
    aAddresses.every((address, index) => address === bAddresses[index])
  );
}

function checkJoinClientOptions(options: JoinClientOptions): void {
  if (options.registries.length === 0) {
    throw new OperatorConfigError('registries', 'at least one registry is required');
  }
  const positive = (
    field:
      | 'requestTimeoutMs'
      | 'joinExpiryMs'
      | 'maxDiscoveryDials'
      | 'discoveryDialConcurrency'
      | 'discoveryDialTimeoutMs',
  ) => {
    if (!Number.isSafeInteger(options[field]) || options[field] <= 0) {
      throw new OperatorConfigError(
        `join.${field}`,
        `must be a positive integer, got ${options[field]}`,
      );
    }
  };
  positive('requestTimeoutMs');
  positive('joinExpiryMs');
  positive('maxDiscoveryDials');
  positive('discoveryDialConcurrency');
  positive('discoveryDialTimeoutMs');
  // The registry refuses an expiry more than 5 minutes ahead.
  if (options.joinExpiryMs > 5 * 60_000) {
    throw new OperatorConfigError('join.joinExpiryMs', 'must be at most 300000 (5 minutes)');
  }
  checkBackoffPolicy('join.retry', options.retry);
  checkBackoffPolicy('join.notRegisteredRetry', options.notRegisteredRetry);
}
