import type { Address } from 'viem';
import { createLibp2pNetwork } from '../../../src/adapters/network-libp2p/libp2p-network.ts';
import { sameAddress } from '../../../src/core/address.ts';
import type { EpochOperator } from '../../../src/core/epoch-state.ts';
import type { Secp256k1 } from '../../../src/crypto/secp256k1.ts';
import type { MainChain } from '../../../src/ports/chain.ts';
import { type Network, type PeerId, PROTOCOLS, TOPICS } from '../../../src/ports/network.ts';
import { joinDigest } from '../../../src/protocol/join-digest.ts';
import { type EpochStateMessage, encodeEpochState } from '../../../src/wire/epoch.ts';
import {
  decodeJoinRequest,
  encodeJoinResponse,
  type JoinRequestMessage,
  MAX_JOIN_REQUEST_BYTES,
} from '../../../src/wire/join.ts';
import {
  decodeSyncRequest,
  encodeSyncResponse,
  MAX_SYNC_REQUEST_BYTES,
} from '../../../src/wire/sync.ts';
import { encodeTask, type TaskMessage } from '../../../src/wire/task.ts';
import {
  decodeTaskResponse,
  encodeTaskResponseAck,
  MAX_TASK_RESPONSE_BYTES,
  type TaskResponseMessage,
} from '../../../src/wire/task-response.ts';

/** Short heartbeats so the gossip mesh forms within a test's budget. */
export const TEST_HEARTBEAT_INTERVAL_MS = 50;

/**
 * The smallest registry an operator node can be driven by end to end: a libp2p peer that checks
 * join requests against the chain's signing key, answers sync with an epoch state built from
 * chain reads, publishes epoch states and tasks, and collects task responses. No store, no
 * lifecycle, no aggregation: the test does those by hand.
 */
export interface FakeRegistry {
  readonly network: Network;
  /** Its listen address, ending in `/p2p/<peer id>`. */
  readonly bootstrapAddress: string;
  readonly joins: { from: PeerId; request: JoinRequestMessage; accepted: boolean }[];
  readonly responses: { from: PeerId; response: TaskResponseMessage }[];
  /** What `/spotted/sync/1` answers with (null: no epoch yet). */
  latestEpoch: EpochStateMessage | null;
  publishEpochState(state: EpochStateMessage): Promise<void>;
  publishTask(task: TaskMessage): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeRegistry(deps: {
  mainChain: MainChain;
  secp256k1: Secp256k1;
}): Promise<FakeRegistry> {
  const network = await createLibp2pNetwork({
    transport: 'memory',
    gossip: { heartbeatIntervalMs: TEST_HEARTBEAT_INTERVAL_MS },
  });
  await network.start();
  const address = network.listenAddresses()[0] as string;
  const registry: FakeRegistry = {
    network,
    bootstrapAddress: address.includes('/p2p/') ? address : `${address}/p2p/${network.peerId}`,
    joins: [],
    responses: [],
    latestEpoch: null,
    publishEpochState: (state) => network.publish(TOPICS.epoch, encodeEpochState(state)),
    publishTask: (task) => network.publish(TOPICS.task, encodeTask(task)),
    stop: () => network.stop(),
  };

  await network.handle(
    PROTOCOLS.join,
    async ({ from, data }) => {
      const request = decodeJoinRequest(data);
      const epoch = await deps.mainChain.getCurrentEpoch();
      const signingKey = await deps.mainChain.getOperatorSigningKeyAtEpoch({
        operator: request.operator,
        epoch,
      });
      const signer = deps.secp256k1.recoverAddress(
        joinDigest({
          operator: request.operator,
          peerId: request.peerId,
          nonce: request.nonce,
          expiresAtMs: request.expiresAtMs,
        }),
        request.signature,
      );
      const accepted = request.peerId === from && sameAddress(signer, signingKey);
      registry.joins.push({ from, request, accepted });
      return encodeJoinResponse(
        accepted
          ? {
              accepted: true,
              status: 'active',
              activeEpoch: epoch,
              currentEpoch: epoch,
              peers: [],
              detail: '',
            }
          : { accepted: false, reason: 'badSignature', detail: `signed by ${signer}` },
      );
    },
    { maxRequestBytes: MAX_JOIN_REQUEST_BYTES },
  );
  await network.handle(
    PROTOCOLS.sync,
    async ({ data }) => {
      decodeSyncRequest(data);
      return encodeSyncResponse({
        latestEpoch: registry.latestEpoch,
        stateHash: null,
        operators: [],
      });
    },
    { maxRequestBytes: MAX_SYNC_REQUEST_BYTES },
  );
  await network.handle(
    PROTOCOLS.response,
    async ({ from, data }) => {
      registry.responses.push({ from, response: decodeTaskResponse(data) });
      return encodeTaskResponseAck({ accepted: true, detail: '' });
    },
    { maxRequestBytes: MAX_TASK_RESPONSE_BYTES },
  );
  return registry;
}

/** An epoch state as an honest registry builds it: every number read from the chain at that epoch. */
export async function epochStateFromChain(
  mainChain: MainChain,
  epoch: number,
  operators: readonly Address[],
  publishedAtMs: number,
): Promise<EpochStateMessage> {
  const entries: EpochOperator[] = await Promise.all(
    operators.map(async (operator) => ({
      operator,
      weightWei: await mainChain.getOperatorWeightAtEpoch({ operator, epoch }),
      signingKey: await mainChain.getOperatorSigningKeyAtEpoch({ operator, epoch }),
    })),
  );
  return {
    epoch,
    startBlock: await mainChain.getStartBlockForEpoch(epoch),
    minimumWeightWei: await mainChain.getMinimumWeight(),
    totalWeightWei: await mainChain.getTotalWeightAtEpoch(epoch),
    thresholdWeightWei: await mainChain.getThresholdWeightAtEpoch(epoch),
    operators: entries.filter((entry) => entry.weightWei > 0n),
    publishedAtMs,
  };
}
