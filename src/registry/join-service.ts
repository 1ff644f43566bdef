import type { Address } from 'viem';
import { sameAddress } from '../core/address.ts';
import { joinNetwork } from '../core/operator-lifecycle.ts';
import type { OperatorStatus } from '../core/operator-status.ts';
import type { OperatorStatusChange } from '../core/operator-transitions.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { MainChain } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type InboundRequest, type Network, type PeerId, PROTOCOLS } from '../ports/network.ts';
import type { RejectionReason, RejectionReporter } from '../ports/rejections.ts';
import { joinDigest } from '../protocol/join-digest.ts';
import type { OperatorRecord } from '../store/registry/operators.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { WireValidationError } from '../wire/errors.ts';
import {
  decodeJoinRequest,
  encodeJoinResponse,
  type JoinRejectReasonName,
  type JoinRequestMessage,
  type JoinResponseMessage,
  MAX_JOIN_REQUEST_BYTES,
  type PeerInfoMessage,
} from '../wire/join.ts';
import { MAX_DETAIL_CHARS, MAX_PEERS_PER_MESSAGE } from '../wire/limits.ts';
import { createJoinLog, type JoinLog } from './join-log.ts';
import { createJoinNonceCache, DEFAULT_MAX_JOIN_NONCES } from './join-nonces.ts';
import { addJoinedOperatorToSnapshot } from './join-snapshot.ts';
import type { PeerDirectory } from './peer-directory.ts';

/** A join may be signed to expire at most this far ahead (node-architecture.md "Join"). */
export const MAX_JOIN_EXPIRY_AHEAD_MS = 5 * 60 * 1000;

export interface JoinServiceDeps {
  network: Pick<Network, 'handle' | 'unhandle' | 'publish'>;
  store: RegistryStore;
  secp256k1: Secp256k1;
  clock: Clock;
  log: Logger;
  peers: PeerDirectory;
  /** When given, an operator that joins as `active` is added to the current epoch's set. */
  chain?: MainChain;
  /** Told of hostile refusals (malformed, bad signature, replayed nonce) for metrics and bans. */
  reportRejection?: RejectionReporter | undefined;
  /** The latest signed join per operator, handed to the other registries (default: a new one). */
  joinLog?: JoinLog;
}

/** Join refusals that no honest operator causes, as named rejections. */
const HOSTILE_JOIN_REFUSALS: Partial<Record<JoinRejectReasonName, RejectionReason>> = {
  malformed: 'malformed',
  badSignature: 'invalid_signature',
  replayedNonce: 'replayed_join',
};

export interface JoinServiceOptions {
  /** Bound on remembered nonces (default 50,000). */
  maxNonces?: number;
  /** Default 5 minutes; a request expiring later than now + this is refused as EXPIRED. */
  maxExpiryAheadMs?: number;
}

export interface JoinService {
  /** Starts answering `/spotted/join/1`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Decides one decoded join sent by `from` (the authenticated remote peer). */
  handleJoin(from: PeerId, request: JoinRequestMessage): Promise<JoinResponseMessage>;
  /** The protocol handler: decode (malformed → refused as `malformed`), decide, encode. */
  handleJoinBytes(from: PeerId, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Applies an operator's signed join that another registry accepted (join replication): the
   * signature is checked against this registry's own key for the operator, and the join must be
   * newer (by its signed expiry, then nonce) than any recorded here; its wall-clock expiry and
   * the sender are not looked at. Then the same rules and effects as a direct join.
   */
  applyReplicatedJoin(request: JoinRequestMessage): Promise<JoinResponseMessage>;
  /** The latest signed joins recorded here (direct and replicated). */
  readonly joinLog: JoinLog;
}

/** Where a join came from: the operator itself, or another registry forwarding its signed join. */
type JoinOrigin = { kind: 'direct'; from: PeerId } | { kind: 'replicated' };

/** Statuses whose operators have joined and are handed out for discovery. */
const JOINED_STATUSES: readonly OperatorStatus[] = ['waitingActive', 'active'];

type Refusal = { accepted: false; reason: JoinRejectReasonName; detail: string };

/**
 * `/spotted/join/1` (node-architecture.md "Join"). The operator signs
 * `joinDigest({ operator, peerId, nonce, expiresAtMs })` with the signing key the registry holds
 * for it. Refusals, checked in this order: unknown operator (`notRegistered`), wrong signer
 * (`badSignature`), expiry in the past or more than 5 minutes ahead (`expired`), nonce seen
 * before (`replayedNonce`), `suspended`, exit epoch reached (`deregistered`). The request must
 * also come from the peer id it binds (else `malformed`): a signed join cannot bind somebody
 * else's peer.
 *
 * On success, in one store transaction: the core join rule (`joinNetwork`: `waitingJoin` →
 * `waitingActive` before `activeEpoch`, `active` at or after it, against the latest advanced
 * epoch read in the same transaction), `peer_id`, and an `operatorJoined` row in
 * `registry_events`. An operator that has already joined (`waitingActive` / `active`) may join
 * again, e.g. after a restart with a new peer id or new addresses: its status stays, its binding
 * moves. The answer carries the status, the epochs and
 * the peers of the other joined operators with the addresses they gave (discovery).
 */
export function createJoinService(
  deps: JoinServiceDeps,
  options: JoinServiceOptions = {},
): JoinService {
  const { network, store, secp256k1, clock, peers } = deps;
  const log = deps.log.child('join-service');
  const maxExpiryAheadMs = options.maxExpiryAheadMs ?? MAX_JOIN_EXPIRY_AHEAD_MS;
  const nonces = createJoinNonceCache({ maxEntries: options.maxNonces ?? DEFAULT_MAX_JOIN_NONCES });
  const joinLog = deps.joinLog ?? createJoinLog();
  let handling = false;

  const refuse = (reason: JoinRejectReasonName, detail: string): Refusal => ({
    accepted: false,
    reason,
    detail: detail.slice(0, MAX_DETAIL_CHARS),
  });

  function signatureRefusal(request: JoinRequestMessage, record: OperatorRecord): Refusal | null {
    let signer: Address;
    try {
      signer = secp256k1.recoverAddress(joinDigest(request), request.signature);
    } catch (error) {
      return refuse('badSignature', `signature does not recover: ${String(error)}`);
    }
    if (!sameAddress(signer, record.signingKey)) {
      return refuse(
        'badSignature',
        `signed by ${signer}, but the signing key of ${record.address} is ${record.signingKey}`,
      );
    }
    return null;
  }

  function expiryRefusal(request: JoinRequestMessage, nowMs: number): Refusal | null {
    if (request.expiresAtMs < nowMs) {
      return refuse('expired', `expired at ${request.expiresAtMs}, now is ${nowMs}`);
    }
    if (request.expiresAtMs > nowMs + maxExpiryAheadMs) {
      return refuse(
        'expired',
        `expires at ${request.expiresAtMs}, more than ${maxExpiryAheadMs} ms ahead of ${nowMs}`,
      );
    }
    return null;
  }

  type Decision =
    | Refusal
    | {
        accepted: true;
        record: OperatorRecord;
        currentEpoch: number | undefined;
        change: OperatorStatusChange | null;
        unboundOperator: Address | undefined;
      };

  async function decide(origin: JoinOrigin, request: JoinRequestMessage): Promise<Decision> {
    if (origin.kind === 'direct' && request.peerId !== origin.from) {
      return refuse(
        'malformed',
        `peer id ${request.peerId} is not the sending peer ${origin.from}`,
      );
    }
    return store.transaction(async (tx): Promise<Decision> => {
      const record = await tx.operators.get(request.operator);
      if (record === undefined) {
        return refuse('notRegistered', `no operator ${request.operator} is registered`);
      }
      const badSignature = signatureRefusal(request, record);
      if (badSignature) return badSignature;
      if (origin.kind === 'direct') {
        const nowMs = clock.now();
        const expired = expiryRefusal(request, nowMs);
        if (expired) return expired;
        if (!nonces.claim(request.nonce, request.expiresAtMs, nowMs)) {
          return refuse('replayedNonce', `nonce ${request.nonce} was used before`);
        }
      } else if (!joinLog.isNewer(request)) {
        // A replicated join is ordered by what the operator signed, not by our clock: an older
        // (or the same) join than the one recorded here changes nothing.
        return refuse('replayedNonce', `not newer than the join recorded for ${record.address}`);
      }
      if (record.status === 'suspended') {
        return refuse(
          'suspended',
          `operator ${record.address} is suspended (admin action lifts it)`,
        );
      }
      const currentEpoch = (await tx.epochStates.getLatest())?.epoch;
      const exited =
        record.status === 'unactive' ||
        (record.exitEpoch !== null &&
          currentEpoch !== undefined &&
          record.exitEpoch <= currentEpoch);
      if (exited) {
        return refuse(
          'deregistered',
          `operator ${record.address} deregistered (exit epoch ${record.exitEpoch})`,
        );
      }

      let status: OperatorStatus = record.status;
      let change: OperatorStatusChange | null = null;
      if (record.status === 'waitingJoin') {
        if (currentEpoch === undefined) {
          // No epoch has started at this registry yet: the first advance activates it.
          status = 'waitingActive';
          change = { operator: record.address, from: record.status, to: status, trigger: 'join' };
        } else {
          const joined = joinNetwork(record, currentEpoch);
          status = joined.operator.status;
          change = joined.change;
        }
      }
      const previousHolder = peers.operatorOf(request.peerId);
      const unboundOperator =
        previousHolder !== undefined && !sameAddress(previousHolder, record.address)
          ? previousHolder
          : undefined;
      if (unboundOperator !== undefined) {
        await tx.operators.update(unboundOperator, { peerId: null });
      }
      const updated = await tx.operators.update(
        record.address,
        status === record.status ? { peerId: request.peerId } : { status, peerId: request.peerId },
        { expectedStatus: record.status },
      );
      await tx.registryEvents.record({
        eventType: 'operatorJoined',
        operatorAddress: record.address,
        data: {
          peerId: request.peerId,
          from: record.status,
          to: status,
          currentEpoch: currentEpoch ?? null,
          ...(unboundOperator === undefined ? {} : { peerTakenFrom: unboundOperator }),
        },
      });
      return { accepted: true, record: updated, currentEpoch, change, unboundOperator };
    });
  }

  async function discoveryPeers(self: Address): Promise<PeerInfoMessage[]> {
    const joined = await store.operators.listByStatus(JOINED_STATUSES);
    const result: PeerInfoMessage[] = [];
    for (const operator of joined) {
      if (result.length >= MAX_PEERS_PER_MESSAGE) break;
      if (sameAddress(operator.address, self)) continue;
      const entry = peers.entryOf(operator.address);
      if (entry === undefined || entry.addresses.length === 0) continue;
      result.push({ peerId: entry.peerId, addresses: entry.addresses, operator: entry.operator });
    }
    return result;
  }

  /**
   * Joins are decided one at a time: the store write and the directory update of one join never
   * interleave with another's (two joins racing for one peer id would otherwise both bind it).
   * The queue is bounded by the network's per-protocol stream limit and inbound timeout.
   */
  let queue: Promise<unknown> = Promise.resolve();
  function enqueue(origin: JoinOrigin, request: JoinRequestMessage): Promise<JoinResponseMessage> {
    const next = queue.then(() => joinOne(origin, request));
    queue = next.catch(() => undefined);
    return next;
  }

  async function joinOne(
    origin: JoinOrigin,
    request: JoinRequestMessage,
  ): Promise<JoinResponseMessage> {
    const decision = await decide(origin, request);
    if (!decision.accepted) {
      if (origin.kind === 'replicated') {
        // Not the operator's doing, nor necessarily the forwarding registry's: no rejection report.
        log.debug('replicated join not applied', {
          operator: request.operator,
          peerId: request.peerId,
          reason: decision.reason,
          detail: decision.detail,
        });
        return decision;
      }
      const rejection = HOSTILE_JOIN_REFUSALS[decision.reason];
      if (rejection !== undefined)
        deps.reportRejection?.({ reason: rejection, channel: PROTOCOLS.join, peer: origin.from });
      log.info('join refused', {
        operator: request.operator,
        peerId: origin.from,
        reason: decision.reason,
        detail: decision.detail,
      });
      return decision;
    }
    const { record, currentEpoch, change, unboundOperator } = decision;
    joinLog.record(request);
    peers.bind({
      operator: record.address,
      peerId: request.peerId,
      addresses: request.listenAddresses,
    });
    if (unboundOperator !== undefined) {
      log.warn('peer moved to another operator', {
        peerId: request.peerId,
        from: unboundOperator,
        to: record.address,
      });
    }
    log.info(origin.kind === 'direct' ? 'operator joined' : 'replicated join applied', {
      operator: record.address,
      peerId: request.peerId,
      status: record.status,
      ...(change === null ? { rejoined: true } : { from: change.from }),
    });
    if (deps.chain && record.status === 'active' && currentEpoch !== undefined) {
      await addJoinedOperatorToSnapshot(
        { chain: deps.chain, store, network, clock, log },
        record.address,
        currentEpoch,
      ).catch((error: unknown) =>
        log.warn('could not add the joined operator to the current epoch', {
          operator: record.address,
          error: String(error),
        }),
      );
    }
    return {
      accepted: true,
      status: record.status,
      activeEpoch: record.activeEpoch,
      currentEpoch: currentEpoch ?? 0,
      peers: await discoveryPeers(record.address),
      detail:
        currentEpoch === undefined
          ? 'no epoch has started at this registry yet'
          : change === null
            ? 'already joined: peer binding updated'
            : '',
    };
  }

  async function handleJoinBytes(from: PeerId, data: Uint8Array): Promise<Uint8Array> {
    let request: JoinRequestMessage;
    try {
      request = decodeJoinRequest(data);
    } catch (error) {
      if (!(error instanceof WireValidationError)) throw error;
      log.info('malformed join request', { peerId: from, error: error.message });
      deps.reportRejection?.({ reason: 'malformed', channel: PROTOCOLS.join, peer: from });
      return encodeJoinResponse(refuse('malformed', error.message));
    }
    return encodeJoinResponse(await enqueue({ kind: 'direct', from }, request));
  }

  async function onRequest(request: InboundRequest): Promise<Uint8Array> {
    try {
      return await handleJoinBytes(request.from, request.data);
    } catch (error) {
      // The store or a codec failed on our side: no answer, the operator retries.
      log.error('join request failed', { peerId: request.from, error: String(error) });
      throw error;
    }
  }

  return {
    async start() {
      if (handling) return;
      await network.handle(PROTOCOLS.join, onRequest, { maxRequestBytes: MAX_JOIN_REQUEST_BYTES });
      handling = true;
    },
    async stop() {
      if (!handling) return;
      handling = false;
      await network.unhandle(PROTOCOLS.join);
    },
    handleJoin: (from, request) => enqueue({ kind: 'direct', from }, request),
    handleJoinBytes,
    applyReplicatedJoin: (request) => enqueue({ kind: 'replicated' }, request),
    joinLog,
  };
}
