import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type InboundRequest, type Network, type PeerId, PROTOCOLS } from '../ports/network.ts';
import type { OperatorRecord } from '../store/registry/operators.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { MAX_OPERATORS_PER_MESSAGE } from '../wire/limits.ts';
import {
  decodeSyncRequest,
  encodeSyncResponse,
  MAX_FACTS_PER_MESSAGE,
  MAX_JOINS_PER_MESSAGE,
  MAX_SYNC_REQUEST_BYTES,
  type OperatorRecordMessage,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from '../wire/sync.ts';
import type { JoinLog } from './join-log.ts';
import { epochStateHash } from './state-hash.ts';

export interface SyncServiceDeps {
  network: Pick<Network, 'handle' | 'unhandle'>;
  store: RegistryStore;
  clock: Clock;
  log: Logger;
  /** The latest signed joins, for another registry's join pull (none answered without it). */
  joinLog?: Pick<JoinLog, 'listAfter'>;
}

export interface SyncService {
  /** Starts answering `/spotted/sync/1`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The answer to one decoded request. */
  answer(from: PeerId, request: SyncRequestMessage): Promise<SyncResponseMessage>;
}

/**
 * `/spotted/sync/1`: an operator that starts late or missed an epoch message asks the registry
 * for the current picture. The answer is always the latest advanced epoch (its state and active
 * operators, as published on `/spotted/epoch/1`) and the operator records; `fromEpoch` does not
 * narrow it (the wire carries one epoch and the latest is what a catching-up operator needs).
 * `stateHash` is the answered epoch's state hash (`state-hash.ts`). A request that carries a
 * `stateHash` comes from another registry comparing states (`state-replication.ts`): it gets
 * epoch `fromEpoch` exactly when stored, else the latest.
 *
 * A request with `wantFacts` is another registry pulling operator facts (`state-replication.ts`):
 * it gets the next page of facts after `factsAfter` and nothing else; one with `wantJoins` gets
 * the next page of signed joins after `joinsAfter` (join replication).
 *
 * Records beyond the message's cap (1,024) are left out, `unactive` ones first. Anyone may ask:
 * everything in the answer is derived from public chain data and public joins. Malformed
 * requests get no answer (the stream closes).
 */
export function createSyncService(deps: SyncServiceDeps): SyncService {
  const { network, store, clock } = deps;
  const log = deps.log.child('sync-service');
  let handling = false;

  async function answer(from: PeerId, request: SyncRequestMessage): Promise<SyncResponseMessage> {
    if (request.wantFacts === true) return answerFacts(from, request.factsAfter ?? 0);
    if (request.wantJoins === true) return answerJoins(from, request.joinsAfter ?? 0);
    // A request carrying a state hash is another registry comparing epoch `fromEpoch`: answer
    // that epoch when it is stored (else the latest, which tells the asker we are behind).
    const exact =
      request.stateHash === null ? undefined : await store.epochStates.get(request.fromEpoch);
    const [latest, records] = await Promise.all([
      exact === undefined ? store.epochStates.getLatest() : Promise.resolve(exact),
      store.operators.list(),
    ]);
    const snapshot =
      latest === undefined
        ? []
        : (await store.epochOperators.list(latest.epoch)).map(
            ({ operator, weightWei, signingKey }) => ({ operator, weightWei, signingKey }),
          );
    const latestEpoch =
      latest === undefined
        ? null
        : {
            epoch: latest.epoch,
            startBlock: latest.startBlock,
            minimumWeightWei: latest.minimumWeightWei,
            totalWeightWei: latest.totalWeightWei,
            thresholdWeightWei: latest.thresholdWeightWei,
            operators: snapshot,
            publishedAtMs: clock.now(),
          };
    const stateHash = latest === undefined ? null : epochStateHash(latest, snapshot);
    const operators = capRecords(records);
    if (operators.length < records.length) {
      log.warn('sync answer leaves operator records out', {
        operators: records.length,
        sent: operators.length,
      });
    }
    log.debug('sync answered', {
      peerId: from,
      fromEpoch: request.fromEpoch,
      latestEpoch: latestEpoch?.epoch,
    });
    return { latestEpoch, stateHash, operators: operators.map(toRecordMessage) };
  }

  /**
   * Another registry's anti-entropy pull: the next page of operator facts after its cursor (this
   * node's local sequence). Facts are public accounting (who missed or answered which task).
   */
  async function answerFacts(from: PeerId, after: number): Promise<SyncResponseMessage> {
    const page = await store.operatorFacts.listAfter(after, MAX_FACTS_PER_MESSAGE);
    const last = page.at(-1)?.seq ?? after;
    log.debug('facts answered', { peerId: from, after, sent: page.length });
    return {
      latestEpoch: null,
      stateHash: null,
      operators: [],
      facts: page.map((stored) => stored.fact),
      factsNext: last,
      factsMore: page.length === MAX_FACTS_PER_MESSAGE,
    };
  }

  /**
   * Another registry's join pull: the next page of the operators' latest signed joins after its
   * cursor. The receiver verifies each signature itself; a join is public (the operator's peer id
   * and addresses are what it announces anyway).
   */
  function answerJoins(from: PeerId, after: number): SyncResponseMessage {
    const page = deps.joinLog?.listAfter(after, MAX_JOINS_PER_MESSAGE) ?? [];
    const last = page.at(-1)?.seq ?? after;
    log.debug('joins answered', { peerId: from, after, sent: page.length });
    return {
      latestEpoch: null,
      stateHash: null,
      operators: [],
      joins: page.map((entry) => entry.join),
      joinsNext: last,
      joinsMore: page.length === MAX_JOINS_PER_MESSAGE,
    };
  }

  async function onRequest(request: InboundRequest): Promise<Uint8Array> {
    let decoded: SyncRequestMessage;
    try {
      decoded = decodeSyncRequest(request.data);
    } catch (error) {
      log.info('malformed sync request', { peerId: request.from, error: String(error) });
      throw error;
    }
    try {
      return encodeSyncResponse(await answer(request.from, decoded));
    } catch (error) {
      log.error('sync request failed', { peerId: request.from, error: String(error) });
      throw error;
    }
  }

  return {
    async start() {
      if (handling) return;
      await network.handle(PROTOCOLS.sync, onRequest, { maxRequestBytes: MAX_SYNC_REQUEST_BYTES });
      handling = true;
    },
    async stop() {
      if (!handling) return;
      handling = false;
      await network.unhandle(PROTOCOLS.sync);
    },
    answer,
  };
}

/** At most MAX_OPERATORS_PER_MESSAGE records, dropping `unactive` ones first; address order kept. */
function capRecords(records: readonly OperatorRecord[]): OperatorRecord[] {
  if (records.length <= MAX_OPERATORS_PER_MESSAGE) return [...records];
  const live = records.filter((record) => record.status !== 'unactive');
  if (live.length >= MAX_OPERATORS_PER_MESSAGE) return live.slice(0, MAX_OPERATORS_PER_MESSAGE);
  const room = MAX_OPERATORS_PER_MESSAGE - live.length;
  const unactive = records.filter((record) => record.status === 'unactive').slice(0, room);
  const keep = new Set([...live, ...unactive]);
  return records.filter((record) => keep.has(record));
}

function toRecordMessage(record: OperatorRecord): OperatorRecordMessage {
  return {
    address: record.address,
    signingKey: record.signingKey,
    status: record.status,
    activeEpoch: record.activeEpoch,
    exitEpoch: record.exitEpoch,
    weightWei: record.weightWei,
    missing: record.missing,
    successfulResponseCount: record.successfulResponseCount,
  };
}
