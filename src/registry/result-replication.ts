import { buildSignatureSet } from '../core/signature-set.ts';
import { computeTaskId } from '../core/task-id.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type GossipMessage, type GossipVerdict, type Network, TOPICS } from '../ports/network.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { GossipRuleError, toGossipVerdict } from '../wire/gossip-verdict.ts';
import {
  decodeTaskResult,
  MAX_TASK_RESULT_BYTES,
  type TaskResultMessage,
} from '../wire/task-result.ts';
import type { RegistryPeer } from './state-replication.ts';

export interface ResultReplicationDeps {
  network: Pick<Network, 'subscribe' | 'unsubscribe'>;
  store: RegistryStore;
  secp256k1: Secp256k1;
  clock: Clock;
  log: Logger;
}

export interface ResultReplicationStats {
  /** Completed results of other registries stored here (first time only). */
  readonly resultsStored: number;
  /** Results refused: a wrong task id, a signature or weight that does not check here. */
  readonly resultsRefused: number;
}

export interface ResultReplication {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): ResultReplicationStats;
  /** Checks and stores one completed result of another registry; what happened. */
  ingest(result: TaskResultMessage): Promise<'stored' | 'known' | 'unchecked'>;
}

/**
 * Completed task results of the other registries (src/registry/README.md "Replication"). Every
 * registry already publishes how each task ended on `/spotted/result/1`; a completed result
 * published by a configured registry is checked here against this registry's own view — the
 * task id recomputed from its fields, every signature against this registry's snapshot of that
 * epoch and the signed weight against its threshold — and stored through `completeTask`, which is
 * at most once per task id: the proof is then answered by `GET /v1/proofs/:id` here too, and its
 * signers' `succeeded` facts (the counters) are the same ones the collecting registry holds. A
 * result for an epoch this registry has not advanced to yet is left (`unchecked`); failed and
 * expired results are not stored. Results from anyone else are rejected.
 */
export function createResultReplication(
  deps: ResultReplicationDeps,
  options: { peers: readonly RegistryPeer[] },
): ResultReplication {
  const { network, store, secp256k1, clock } = deps;
  const log = deps.log.child('result-replication');
  const peerIds = new Set(options.peers.map((peer) => peer.peerId));
  let started = false;
  let resultsStored = 0;
  let resultsRefused = 0;

  async function ingest(result: TaskResultMessage): Promise<'stored' | 'known' | 'unchecked'> {
    if (result.status !== 'completed') return 'unchecked';
    const taskId = computeTaskId({
      user: result.targetAddress,
      chainId: result.chainId,
      blockNumber: result.blockNumber,
      timestampSec: result.timestampSec,
      epoch: result.epoch,
      key: result.key,
      value: result.value,
    });
    if (taskId.toLowerCase() !== result.taskId.toLowerCase()) {
      throw new GossipRuleError(
        'BAD_SIGNATURE',
        'TaskResult',
        `task id ${result.taskId} is not the hash of its fields (${taskId})`,
      );
    }
    const known = await store.avsResponses.get(taskId);
    if (known !== undefined) return 'known';
    const epochState = await store.epochStates.get(result.epoch);
    if (epochState === undefined) return 'unchecked';
    const set = buildSignatureSet({
      secp256k1,
      digest: taskId,
      referenceEpoch: result.epoch,
      responses: result.operators.map((operator, index) => ({
        operator,
        signature: result.signatures[index] as `0x${string}`,
      })),
      epochOperators: await store.epochOperators.list(result.epoch),
      thresholdWeightWei: epochState.thresholdWeightWei,
    });
    if (set.rejected.length > 0 || !set.reachesThreshold) {
      // Ignored, not rejected: this registry's own snapshot may be the wrong one (diverged).
      throw new GossipRuleError(
        'PREMATURE',
        'TaskResult',
        set.rejected.length > 0
          ? `signature of ${set.rejected[0]?.operator} does not check here: ${set.rejected[0]?.reason}`
          : `signed weight ${set.signedWeightWei} is below the threshold ${epochState.thresholdWeightWei}`,
      );
    }
    const now = clock.now();
    const completion = await store.transaction(async (tx) => {
      await tx.tasks.create({
        taskId,
        targetAddress: result.targetAddress,
        chainId: result.chainId,
        blockNumber: result.blockNumber,
        timestampSec: result.timestampSec,
        epoch: result.epoch,
        key: result.key,
        value: result.value,
        expiresAtMs: now,
      });
      await tx.operatorResponses.recordMany(
        set.operators.map((operator, index) => ({
          taskId,
          operatorAddress: operator,
          epoch: result.epoch,
          submittedAtMs: now,
          outcome: 'signed' as const,
          signature: set.signatures[index] as `0x${string}`,
        })),
      );
      return tx.completeTask({
        taskId,
        signers: set.operators,
        signatureData: set.signatureData,
        respondedAtMs: now,
      });
    });
    return completion.completed ? 'stored' : 'known';
  }

  async function onResult(message: GossipMessage): Promise<GossipVerdict> {
    try {
      if (!peerIds.has(message.from)) {
        throw new GossipRuleError(
          'UNKNOWN_SENDER',
          'TaskResult',
          `published by ${message.from}, which is not a configured registry`,
        );
      }
      const result = decodeTaskResult(message.data);
      const outcome = await ingest(result);
      if (outcome === 'stored') {
        resultsStored += 1;
        log.info('replicated result stored', { taskId: result.taskId, from: message.from });
      }
      return 'accept';
    } catch (error) {
      resultsRefused += 1;
      log.debug('task result refused', { from: message.from, error: String(error) });
      return toGossipVerdict(error);
    }
  }

  return {
    async start() {
      if (started || peerIds.size === 0) return;
      started = true;
      network.subscribe(TOPICS.result, onResult, { maxMessageBytes: MAX_TASK_RESULT_BYTES });
    },
    async stop() {
      if (!started) return;
      started = false;
      network.unsubscribe(TOPICS.result);
    },
    stats: () => ({ resultsStored, resultsRefused }),
    ingest,
  };
}
