import type { Address, Hex } from 'viem';
import { ContractRevertError, UnknownChainError } from '../chain/errors.ts';
import { addressKey, sameAddress } from '../core/address.ts';
import type { EpochOperator } from '../core/epoch-state.ts';
import { MISSES_BEFORE_SUSPENSION } from '../core/operator-counters.ts';
import { buildSignatureSet, verifyOperatorSignature } from '../core/signature-set.ts';
import { computeTaskId } from '../core/task-id.ts';
import {
  advanceTaskTime,
  DEFAULT_TASK_ROUND_CONFIG,
  nextWakeUpAtMs,
  type OperatorReply,
  recordReply,
  startTask,
  type TaskEvent,
  type TaskProgress,
  type TaskRoundConfig,
} from '../core/task-round.ts';
import type { TaskStatus } from '../core/task-status.ts';
import { reachesThreshold, sumWeightsWei } from '../core/weight.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Chains, HistoryEntry } from '../ports/chain.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type Network, type PeerId, PROTOCOLS, TOPICS } from '../ports/network.ts';
import type { RejectionReason, RejectionReporter } from '../ports/rejections.ts';
import { type ProofQuery, taskIdFieldsFor } from '../protocol/task-fields.ts';
import { StoreConflictError } from '../store/errors.ts';
import type { OperatorResponseInput } from '../store/registry/operator-task-responses.ts';
import type { JobLease, LeasedJob, QueueStats } from '../store/registry/queue-jobs.ts';
import type { RegistryRepositories, RegistryStore } from '../store/registry/registry-store.ts';
import type { RegistryTaskRecord } from '../store/registry/tasks.ts';
import { encodeTask } from '../wire/task.ts';
import {
  decodeTaskResponse,
  encodeTaskResponseAck,
  MAX_TASK_RESPONSE_BYTES,
  type TaskResponseMessage,
} from '../wire/task-response.ts';
import { encodeTaskResult, type TaskResultMessage } from '../wire/task-result.ts';
import {
  createDeliveryHandlers,
  DEFAULT_DELIVERY_OPTIONS,
  type DeliveryOptions,
} from './deliveries.ts';
import type { ConsumerChains, WebhookSender } from './delivery-ports.ts';
import { ProofRequestError } from './errors.ts';
import { createJobWorker } from './job-worker.ts';
import {
  type CollectJobPayload,
  chainJob,
  collectJob,
  DELIVERY_QUEUES,
  isCallbackUrl,
  parseCollectPayload,
  QUEUES,
  webhookJob,
} from './jobs.ts';
import { type ProofView, readProofView } from './proof-view.ts';
import { createSerialQueue } from './serial-queue.ts';

export interface AggregatorDeps {
  clock: Clock;
  network: Network;
  chains: Chains;
  store: RegistryStore;
  secp256k1: Secp256k1;
  log: Logger;
  /**
   * Which peer speaks for which operator, as bound by joins (the registry's peer directory): a
   * response counts only from the operator's peer, and a round waits for those peers to be
   * reachable after a restart.
   */
  peers: {
    operatorOf(peer: PeerId): Address | undefined;
    peerOf(operator: Address): PeerId | undefined;
  };
  /** POSTs results to callback URLs; without it a request naming a callbackUrl is refused. */
  webhooks?: WebhookSender | undefined;
  /** Consumer contracts proofs can be submitted to, by destination chain. */
  consumers?: ConsumerChains | undefined;
  /** Told of refused responses (named reasons) for metrics and bans. */
  reportRejection?: RejectionReporter | undefined;
  /**
   * The epoch advancer (`registry/epoch-advancer.ts`): while it catches up with the chain's
   * epochs, new requests are refused (see `requestProof`). Without it, never refused for that.
   */
  epochs?:
    | {
        catchingUp(): EpochCatchUp | undefined;
        /**
         * The latest epoch this node advanced: a first round waiting for its operators opens at
         * once when it is past the task's epoch (see `openWhenReachable`).
         */
        currentEpoch?(): number | undefined;
      }
    | undefined;
}

/** How far behind the chain's epochs this node is (`EpochAdvancer.catchingUp`). */
export interface EpochCatchUp {
  readonly advancedEpoch: number | undefined;
  readonly chainEpoch: number | undefined;
}

/** `Retry-After` of a request refused while the epochs catch up: one advance takes about this. */
export const CATCHING_UP_RETRY_AFTER_SEC = 2;

export interface AggregatorQueueOptions {
  /**
   * Names this aggregator's leases in the job queue. Aggregators sharing one database need
   * distinct ids; a restarted aggregator must keep its id to take its leases back at once.
   * Default: `aggregator:<peer id>`.
   */
  workerId: string;
  /** Visibility timeout of a collection: renewed every third of it while the task is live. */
  collectLeaseMs: number;
  /** Leases of one collection before it is given up (crash loops, repeated store errors). */
  collectMaxAttempts: number;
  /** How often the worker looks for jobs nobody told it about (other nodes, retries, lost leases). */
  pollIntervalMs: number;
  deliveries: DeliveryOptions;
}

/** How long a first round waits for its operators to reconnect after this node (re)starts. */
export interface ReconnectOptions {
  /**
   * From start: within it a first round waits until the reachable operators it asks can reach
   * the threshold, or all are reachable (bounded by the task's deadline and epoch). Operators rejoin with a backoff of at most 30 s (join client), so the
   * default covers their slowest retry.
   */
  windowMs: number;
  /** How often a waiting task looks at the connections again. */
  checkIntervalMs: number;
}

export const DEFAULT_RECONNECT_OPTIONS: ReconnectOptions = {
  windowMs: 40_000,
  checkIntervalMs: 100,
};

export interface AggregatorOptions {
  /** Deadlines, retries, expiry and selection; defaults: 3 s, 3 retries, 15 s, all active. */
  round?: Partial<TaskRoundConfig>;
  /** Waiting for operators to reconnect after a (re)start; defaults: 40 s window, 100 ms checks. */
  reconnect?: Partial<ReconnectOptions>;
  /** Tasks collected at once; further requests are refused as OVERLOADED. */
  maxLiveTasks?: number;
  queue?: Partial<Omit<AggregatorQueueOptions, 'deliveries'>> & {
    deliveries?: {
      webhook?: Partial<DeliveryOptions['webhook']>;
      chain?: Partial<DeliveryOptions['chain']>;
      pendingRecheckMs?: number;
    };
  };
}

/** Where a task's result goes besides the API (optional, each at most once per target). */
export interface DeliveryRequest {
  /** POST the result here (http or https) once the task ends. */
  callbackUrl?: string;
  /** Submit the proof to the SpottedConsumer configured for this chain once completed. */
  submitToChainId?: number;
}

export interface ProofRequestOutcome {
  taskId: Hex;
  status: TaskStatus;
  /** False when the same request in the same epoch already had a task. */
  created: boolean;
}

export interface TaskEndedEvent {
  taskId: Hex;
  status: Exclude<TaskStatus, 'pending'>;
}

export interface Aggregator {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Accepts a proof request: reads the chain, stores the task and its collection job (and the
   * deliveries asked for) in one transaction, then starts collecting. Once this resolves the
   * request survives a crash.
   */
  requestProof(query: ProofQuery, deliveries?: DeliveryRequest): Promise<ProofRequestOutcome>;
  getProof(taskId: Hex): Promise<ProofView | undefined>;
  /** Tasks being collected right now. */
  liveTaskCount(): number;
  onTaskEnded(listener: (event: TaskEndedEvent) => void): () => void;
  /** Depth and age of each job queue (for metrics). */
  queueStats(): Promise<QueueStats[]>;
  /** The id this aggregator leases jobs under. */
  readonly workerId: string;
}

/** One task being collected: its reducer state plus what the messages need. */
interface LiveTask {
  record: RegistryTaskRecord;
  query: ProofQuery;
  history: { blockNumber: bigint; timestampSec: bigint };
  epochOperators: readonly EpochOperator[];
  progress: TaskProgress;
  timer: TimerHandle | undefined;
  /** This aggregator's lease on the task's collection job. */
  lease: JobLease;
  /**
   * Added to the reducer's round numbers in task messages: a collection taken up again (after a
   * crash) starts above the rounds sent before, which operators would drop as already seen.
   */
  roundOffset: number;
  /**
   * Set until the first round opens: it waits for the operators to reconnect after a (re)start
   * (`openWhenReachable`); `progress` is provisional meanwhile (nothing was sent).
   */
  opening: { storedReplies: OperatorReply[]; waitedSinceMs: number } | undefined;
  /**
   * Answers received but not stored yet: written together (`operatorResponses.recordMany`)
   * right before the completion, when a retry round opens, and when the collection ends — one
   * store call per round instead of one per answer (see `saveAnswers`).
   */
  unsaved: OperatorResponseInput[];
  /**
   * Signatures this process verified as they arrived (`recordResponse`), by operator key: the
   * proof does not recover them again (`buildSignatureSet`'s `verified`). Answers read back from
   * the store after a restart are not in it, so those are verified when the proof is built.
   */
  verified: Map<string, Hex>;
}

const DEFAULT_MAX_LIVE_TASKS = 1_000;
/** Pending tasks checked against their collection job at start. */
const RECONCILE_LIMIT = 10_000;

export const DEFAULT_QUEUE_OPTIONS: Omit<AggregatorQueueOptions, 'workerId'> = {
  collectLeaseMs: 10_000,
  collectMaxAttempts: 100,
  pollIntervalMs: 1_000,
  deliveries: DEFAULT_DELIVERY_OPTIONS,
};

function resolveQueueOptions(
  options: AggregatorOptions['queue'],
  peerId: PeerId,
): AggregatorQueueOptions {
  const deliveries = options?.deliveries;
  return {
    workerId: options?.workerId ?? `aggregator:${peerId}`.slice(0, 128),
    collectLeaseMs: options?.collectLeaseMs ?? DEFAULT_QUEUE_OPTIONS.collectLeaseMs,
    collectMaxAttempts: options?.collectMaxAttempts ?? DEFAULT_QUEUE_OPTIONS.collectMaxAttempts,
    pollIntervalMs: options?.pollIntervalMs ?? DEFAULT_QUEUE_OPTIONS.pollIntervalMs,
    deliveries: {
      webhook: { ...DEFAULT_DELIVERY_OPTIONS.webhook, ...deliveries?.webhook },
      chain: { ...DEFAULT_DELIVERY_OPTIONS.chain, ...deliveries?.chain },
      pendingRecheckMs: deliveries?.pendingRecheckMs ?? DEFAULT_DELIVERY_OPTIONS.pendingRecheckMs,
    },
  };
}

/** The request a stored task answers (for a collection taken up again). */
function queryOf(record: RegistryTaskRecord, byTimestamp: boolean): ProofQuery {
  return {
    chainId: record.chainId,
    targetAddress: record.targetAddress,
    key: record.key,
    ...(byTimestamp ? { timestampSec: record.timestampSec } : { blockNumber: record.blockNumber }),
  };
}

/**
 * Ends a pending task as failed or expired inside `tx`; false when it had already ended (by
 * another aggregator, or a step that ran first).
 */
async function endIfPending(
  tx: RegistryRepositories,
  taskId: Hex,
  status: 'failed' | 'expired',
): Promise<boolean> {
  try {
    return (await tx.tasks.setStatus(taskId, status)).changed;
  } catch (error) {
    if (error instanceof StoreConflictError && error.reason === 'TASK_FINAL') return false;
    throw error;
  }
}

/**
 * The aggregator (SPEC §3 "Task", "Bridge queue"): turns a proof request into a task, sends it
 * to an operator set of the epoch, collects signatures and refusals over `/spotted/response/1`,
 * retries without refusers and non-responders, counts misses (5 → suspended) and successes,
 * publishes the outcome on `/spotted/result/1`, and delivers it to callback URLs and consumer
 * contracts.
 *
 * Every accepted task is a job in the store's durable queue (`task.collect`), leased while this
 * node collects it; deliveries are jobs too (`delivery.webhook`, `delivery.chain`). A node that
 * dies anywhere loses nothing: its restart (or another aggregator, once the lease runs out)
 * takes the jobs up again, expiring tasks past their deadline. See README.md in this folder.
 *
 * The round logic is the pure reducer in `core/task-round.ts`; this file does the I/O around
 * it, one step at a time per task id.
 */
export function createAggregator(
  deps: AggregatorDeps,
  options: AggregatorOptions = {},
): Aggregator {
  const { clock, network, chains, store, secp256k1, peers } = deps;
  const log = deps.log.child('aggregator');
  const config: TaskRoundConfig = { ...DEFAULT_TASK_ROUND_CONFIG, ...options.round };
  const maxLiveTasks = options.maxLiveTasks ?? DEFAULT_MAX_LIVE_TASKS;
  const reconnect: ReconnectOptions = { ...DEFAULT_RECONNECT_OPTIONS, ...options.reconnect };
  const queueOptions = resolveQueueOptions(options.queue, network.peerId);
  const { workerId, collectLeaseMs } = queueOptions;
  const live = new Map<Hex, LiveTask>();
  const listeners = new Set<(event: TaskEndedEvent) => void>();
  const serial = createSerialQueue((taskId, error) =>
    log.error('task step failed', { taskId, error: String(error) }),
  );
  let running = false;
  /** When `start()` ran: operators' connections are rebuilt from then on. */
  let startedAtMs = 0;
  let renewal: { stop: AbortController; loop: Promise<void> } | undefined;

  const worker = createJobWorker(
    { queue: store.queue, clock, log },
    {
      workerId,
      pollIntervalMs: queueOptions.pollIntervalMs,
      handlers: [
        {
          queue: QUEUES.collect,
          leaseMs: collectLeaseMs,
          concurrency: 16,
          capacity: () => maxLiveTasks - live.size,
          handle: takeUp,
          onDeadLetter: (job, reason) => failAbandoned(job, reason),
        },
        ...createDeliveryHandlers(
          { store, clock, log, webhooks: deps.webhooks, consumers: deps.consumers },
          queueOptions.deliveries,
        ),
      ],
    },
  );

  function checkDeliveries(delivery: DeliveryRequest): void {
    if (delivery.callbackUrl !== undefined) {
      if (!isCallbackUrl(delivery.callbackUrl)) {
        throw new ProofRequestError(
          'INVALID_REQUEST',
          'callbackUrl: expected an http(s) URL without credentials, at most 2048 characters',
          { field: 'callbackUrl' },
        );
      }
      if (!deps.webhooks) {
        throw new ProofRequestError(
          'DELIVERY_UNAVAILABLE',
          'callbackUrl: this registry does not deliver results to callback URLs',
          { field: 'callbackUrl' },
        );
      }
    }
    const chainId = delivery.submitToChainId;
    if (chainId !== undefined && !deps.consumers?.get(chainId)) {
      const known = deps.consumers?.chainIds ?? [];
      throw new ProofRequestError(
        'DELIVERY_UNAVAILABLE',
        `submitToChainId: no consumer contract is configured for chain ${chainId}${known.length > 0 ? ` (configured: ${known.join(', ')})` : ''}`,
        { field: 'submitToChainId' },
      );
    }
  }

  /** Adds the deliveries asked for; they wait for the task to end (woken then). */
  async function enqueueDeliveries(
    tx: RegistryRepositories,
    task: RegistryTaskRecord,
    delivery: DeliveryRequest,
  ): Promise<void> {
    const now = clock.now();
    const visibleAtMs = task.status === 'pending' ? Math.max(now, task.expiresAtMs) : now;
    const { webhook, chain } = queueOptions.deliveries;
    if (delivery.callbackUrl !== undefined) {
      await tx.queue.enqueue(
        webhookJob(
          { taskId: task.taskId, url: delivery.callbackUrl },
          { maxAttempts: webhook.maxAttempts, backoff: webhook.backoff, visibleAtMs },
        ),
      );
    }
    if (delivery.submitToChainId !== undefined) {
      await tx.queue.enqueue(
        chainJob(
          { taskId: task.taskId, chainId: delivery.submitToChainId },
          { maxAttempts: chain.maxAttempts, backoff: chain.backoff, visibleAtMs },
        ),
      );
    }
  }

  async function requestProof(
    query: ProofQuery,
    delivery: DeliveryRequest = {},
  ): Promise<ProofRequestOutcome> {
    if (!running) throw new ProofRequestError('NOT_READY', 'the aggregator is not running');
    checkDeliveries(delivery);
    refuseWhileCatchingUp();
    const epochState = await store.epochStates.getLatest();
    if (!epochState) {
      throw new ProofRequestError(
        'NOT_READY',
        'no epoch has been advanced yet: no operator set to ask',
      );
    }
    const entry = await readHistory(query);
    const fields = taskIdFieldsFor(query, epochState.epoch, entry.value);
    const taskId = computeTaskId(fields);
    const current = live.get(taskId);
    if (!current && live.size >= maxLiveTasks) {
      throw new ProofRequestError('OVERLOADED', `${live.size} tasks in flight; try again shortly`);
    }
    const collect: CollectJobPayload = {
      taskId,
      byTimestamp: query.timestampSec !== undefined,
      historyBlockNumber: entry.blockNumber,
      historyTimestampSec: entry.timestampSec,
    };
    // Task, collection job and deliveries commit together: an answered request is never lost.
    const accepted = await store.transaction(async (tx) => {
      const { task, created } = await tx.tasks.create({
        taskId,
        targetAddress: query.targetAddress,
        chainId: query.chainId,
        blockNumber: fields.blockNumber,
        timestampSec: fields.timestampSec,
        epoch: epochState.epoch,
        key: query.key,
        value: entry.value,
        expiresAtMs: clock.now() + config.expiryMs,
      });
      const job = created
        ? (
            await tx.queue.enqueue(
              collectJob(collect, { maxAttempts: queueOptions.collectMaxAttempts }),
            )
          ).job
        : undefined;
      await enqueueDeliveries(tx, task, delivery);
      return { task, job };
    });
    if (accepted.task.status !== 'pending') worker.notify();
    if (!accepted.job) {
      return {
        taskId,
        status: current?.progress.status ?? accepted.task.status,
        created: false,
      };
    }
    // Start collecting now instead of at the worker's next poll.
    const claimed = await store.queue.lease(accepted.job.id, {
      workerId,
      leaseMs: collectLeaseMs,
    });
    if (claimed) await worker.run(claimed);
    else worker.notify();
    return {
      taskId,
      status: live.get(taskId)?.progress.status ?? (await statusOf(taskId)),
      created: true,
    };
  }

  /**
   * A task is stamped with the latest advanced epoch. While this node catches up with the chain
   * (after a restart, epochs are advanced one at a time), that epoch is one its operators are
   * about to leave or have skipped: they would refuse the task (`staleEpoch`) and it would fail.
   * So new requests wait until the epochs caught up: NOT_READY (503) with a Retry-After.
   */
  function refuseWhileCatchingUp(): void {
    const behind = deps.epochs?.catchingUp();
    if (!behind) return;
    const at = behind.advancedEpoch === undefined ? 'no epoch' : `epoch ${behind.advancedEpoch}`;
    const chain =
      behind.chainEpoch === undefined
        ? 'has not read the chain head yet'
        : `the chain is at epoch ${behind.chainEpoch}`;
    throw new ProofRequestError(
      'NOT_READY',
      `this registry is catching up with the chain’s epochs (${at} advanced; ${chain}); retry in ${CATCHING_UP_RETRY_AFTER_SEC} s`,
      { retryAfterSec: CATCHING_UP_RETRY_AFTER_SEC },
    );
  }

  async function statusOf(taskId: Hex): Promise<TaskStatus> {
    return (await store.tasks.get(taskId))?.status ?? 'pending';
  }

  async function readHistory(query: ProofQuery): Promise<HistoryEntry> {
    let chain: ReturnType<Chains['state']>;
    try {
      chain = chains.state(query.chainId);
    } catch (error) {
      if (error instanceof UnknownChainError) {
        throw new ProofRequestError('UNKNOWN_CHAIN', error.message, {
          field: 'chainId',
          cause: error,
        });
      }
      throw error;
    }
    try {
      return query.timestampSec === undefined
        ? await chain.getHistoryAtBlock({
            user: query.targetAddress,
            key: query.key,
            blockNumber: query.blockNumber ?? 0n,
          })
        : await chain.getHistoryAtTimestamp({
            user: query.targetAddress,
            key: query.key,
            timestampSec: query.timestampSec,
          });
    } catch (error) {
      if (error instanceof ContractRevertError) {
        const point =
          query.timestampSec === undefined
            ? `block ${query.blockNumber}`
            : `time ${query.timestampSec}`;
        if (error.errorName === 'NoHistoryFound') {
          throw new ProofRequestError(
            'NO_HISTORY',
            `no value stored for ${query.targetAddress} key ${query.key} at or before ${point} on chain ${query.chainId}`,
            { cause: error },
          );
        }
        if (error.errorName === 'BlockNotFound' || error.errorName === 'TimestampNotFound') {
          throw new ProofRequestError(
            'POINT_IN_FUTURE',
            `${point} is not on chain ${query.chainId} yet`,
            {
              field: query.timestampSec === undefined ? 'blockNumber' : 'timestamp',
              cause: error,
            },
          );
        }
      }
      throw new ProofRequestError(
        'CHAIN_UNAVAILABLE',
        `reading chain ${query.chainId} failed: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * A leased collection job (new, or taken up again after a crash or a lost lease): collect the
   * task, or settle a job whose task already ended or is past its deadline.
   */
  async function takeUp(job: LeasedJob): Promise<void> {
    const payload = parseCollectPayload(job.payload);
    await serial.call(payload.taskId, async () => {
      const record = await store.tasks.get(payload.taskId);
      if (!record) {
        await store.queue.deadLetter(job.lease, { reason: `task ${payload.taskId} is not stored` });
        return;
      }
      const current = live.get(record.taskId);
      if (current) {
        current.lease = job.lease; // collecting it already: keep the newer lease
        return;
      }
      if (record.status !== 'pending') {
        await settleJob(job.lease, record.taskId, { status: record.status });
        return;
      }
      const epochState = await store.epochStates.get(record.epoch);
      if (record.expiresAtMs <= clock.now() || !epochState) {
        const reason = epochState
          ? 'no proof before the deadline'
          : `epoch ${record.epoch} is not stored`;
        if (await endAndSettle(record, 'expired', job.lease)) {
          log.info('task expired', { taskId: record.taskId, reason, attempt: job.attempts });
          await publishResult(record, { status: 'expired', failureReason: reason });
          emit({ taskId: record.taskId, status: 'expired' });
        }
        return;
      }
      await begin(
        record,
        queryOf(record, payload.byTimestamp),
        { blockNumber: payload.historyBlockNumber, timestampSec: payload.historyTimestampSec },
        epochState.thresholdWeightWei,
        job.lease,
      );
    });
  }

  /** Wakes the task's deliveries and acks its collection job, together. */
  async function settleJob(lease: JobLease, taskId: Hex, result: { status: TaskStatus }) {
    await store.transaction(async (tx) => {
      await tx.queue.wake({ groupKey: taskId, queues: DELIVERY_QUEUES });
      await tx.queue.ack(lease, { result });
    });
    worker.notify();
  }

  /** Ends a task that is not live here, wakes its deliveries and acks the job, in one transaction. */
  async function endAndSettle(
    record: RegistryTaskRecord,
    status: 'failed' | 'expired',
    lease: JobLease,
  ): Promise<boolean> {
    const changed = await store.transaction(async (tx) => {
      const ended = await endIfPending(tx, record.taskId, status);
      await tx.queue.wake({ groupKey: record.taskId, queues: DELIVERY_QUEUES });
      await tx.queue.ack(lease, { result: { status } });
      return ended;
    });
    worker.notify();
    return changed;
  }

  /** A collection given up by the queue: the task ends failed with the queue's reason. */
  async function failAbandoned(job: LeasedJob, reason: string): Promise<void> {
    const taskId = (job.payload as { taskId?: Hex }).taskId;
    if (typeof taskId !== 'string') return;
    await serial.call(taskId, () => failGivenUp(taskId, reason));
  }

  /** Ends a task whose collection job was dead-lettered; runs in the task's serial queue. */
  async function failGivenUp(taskId: Hex, reason: string): Promise<void> {
    const task = live.get(taskId);
    if (task) {
      task.timer?.cancel();
      live.delete(taskId);
    }
    const record = await store.tasks.get(taskId).catch(() => undefined);
    if (record?.status !== 'pending') return;
    const changed = await store.transaction(async (tx) => {
      const ended = await endIfPending(tx, record.taskId, 'failed');
      await tx.queue.wake({ groupKey: record.taskId, queues: DELIVERY_QUEUES });
      return ended;
    });
    if (!changed) return;
    log.warn('task failed: its collection was given up', { taskId, reason });
    await publishResult(record, { status: 'failed', failureReason: reason });
    emit({ taskId, status: 'failed' });
  }

  /**
   * Runs one step of a live task (in its serial queue). A step that throws (a store error in the
   * completion's transaction, say) leaves the in-memory state ahead of the store — a task
   * `completed` here but pending there, with no timer left — so it would sit in `live`, its lease
   * renewed forever. Instead the collection is given back to the queue (`retry`, with its
   * backoff) and taken up again from the store: stored answers count, the operators re-send the
   * others in a new round.
   */
  async function step(task: LiveTask, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await giveBackCollection(task, error);
    }
  }

  async function giveBackCollection(task: LiveTask, error: unknown): Promise<void> {
    const { taskId } = task.record;
    task.timer?.cancel();
    task.timer = undefined;
    // Stopping: `stop()` releases the leases of the tasks still live.
    if (!running) throw error;
    if (live.get(taskId) === task) live.delete(taskId);
    log.warn('task step failed; its collection is given back to be taken up again', {
      taskId,
      error: String(error),
    });
    await saveAnswers(task).catch(() => {});
    try {
      const { deadLettered, job } = await store.queue.retry(task.lease, {
        error: String(error).slice(0, 1_000),
      });
      if (deadLettered) await failGivenUp(taskId, job.deadLetterReason ?? String(error));
    } catch (retryError) {
      if (retryError instanceof StoreConflictError) return; // the lease moved on
      log.error('could not give the collection back; its lease will run out', {
        taskId,
        error: String(retryError),
      });
    }
    worker.notify();
  }

  /**
   * Prepares a task's collection (new, or taken up again) with the epoch's active set, then opens
   * its first round once the operators it asks can hear it (`openWhenReachable`).
   */
  async function begin(
    record: RegistryTaskRecord,
    query: ProofQuery,
    history: LiveTask['history'],
    thresholdWeightWei: bigint,
    lease: JobLease,
  ): Promise<void> {
    const [snapshot, active, answered] = await Promise.all([
      store.epochOperators.list(record.epoch),
      store.operators.listByStatus('active'),
      lease.attempt > 1 ? store.operatorResponses.listByTask(record.taskId) : [],
    ]);
    // Operators suspended (or gone) since the epoch started are no longer asked.
    const activeKeys = new Set(active.map((o) => addressKey(o.address)));
    const epochOperators = snapshot
      .filter((o) => activeKeys.has(addressKey(o.operator)))
      .map((o) => ({ operator: o.operator, weightWei: o.weightWei, signingKey: o.signingKey }));
    // Answers stored before a crash still count: fed to the reducer when the round opens.
    const storedReplies = answered.map(
      (answer): OperatorReply =>
        answer.outcome === 'signed'
          ? { kind: 'signed', operator: answer.operatorAddress, signature: answer.signature }
          : { kind: 'refused', operator: answer.operatorAddress, reason: answer.refusalReason },
    );
    const task: LiveTask = {
      record,
      query,
      history,
      epochOperators,
      progress: firstRound(record, epochOperators, thresholdWeightWei, storedReplies).task,
      timer: undefined,
      lease,
      roundOffset: (lease.attempt - 1) * (1 + config.maxRetries),
      opening: { storedReplies, waitedSinceMs: clock.now() },
      unsaved: [],
      verified: new Map(),
    };
    live.set(record.taskId, task);
    log.info(lease.attempt > 1 ? 'task taken up again' : 'task accepted', {
      taskId: record.taskId,
      epoch: record.epoch,
      operators: epochOperators.length,
      attempt: lease.attempt,
      storedAnswers: answered.length,
    });
    await step(task, () => openWhenReachable(task));
  }

  /** The reducer's start at `now`, with the stored answers fed to it. Pure. */
  function firstRound(
    record: RegistryTaskRecord,
    epochOperators: readonly EpochOperator[],
    thresholdWeightWei: bigint,
    storedReplies: readonly OperatorReply[],
  ): { task: TaskProgress; events: TaskEvent[] } {
    const now = clock.now();
    const step = startTask({
      epochOperators,
      thresholdWeightWei,
      nowMs: now,
      config: { ...config, expiryMs: Math.max(1, record.expiresAtMs - now) },
    });
    let progress = step.task;
    const events = [...step.events];
    for (const reply of storedReplies) {
      const next = recordReply(progress, reply, now);
      progress = next.task;
      events.push(...next.events);
    }
    return { task: progress, events };
  }

  /**
   * Asked operators whose peer is bound (they joined, before or since a restart) but cannot hear
   * the task topic from this node now: not connected, or their subscription not seen yet.
   */
  function unreachableOf(asked: readonly Address[]): Address[] {
    const listening = new Set(network.topicPeers(TOPICS.task));
    return asked.filter((operator) => {
      const peer = peers.peerOf(operator);
      return peer !== undefined && !listening.has(peer);
    });
  }

  /**
   * Opens the task's first round, unless this node started less than `reconnect.windowMs` ago
   * and the round could not succeed yet: after a (re)start the operators' connections are gone
   * until they join again, and a round sent before that reaches nobody, counts everyone missing
   * and excludes them from the retries (the task would fail). Within the window the round waits,
   * re-checking every `reconnect.checkIntervalMs`, until the reachable operators it asks (plus
   * the signatures already held) reach the threshold, or everyone asked is reachable, or the
   * window ends, or only one response deadline is left before expiry, or this node advanced past
   * the task's epoch (operators soon refuse it as stale); then it opens, asking
   * everyone (an operator still away is missing, as it would be later). Waiting for *every*
   * operator would let one dead operator delay every task of the window. Outside the window a
   * round opens at once when anyone it asks is reachable, as an operator offline then is really
   * offline. At no time does a first round open with none of the (bound) operators it asks
   * reachable: that is this node cut off, not all of them failing; the task waits and, if nobody
   * comes back, expires at its deadline without anyone counted missing for a round nobody could
   * hear.
   */
  async function openWhenReachable(task: LiveTask): Promise<void> {
    const opening = task.opening;
    if (!opening) return;
    const { record } = task;
    const now = clock.now();
    const provisional = firstRound(
      record,
      task.epochOperators,
      task.progress.thresholdWeightWei,
      opening.storedReplies,
    );
    const round = provisional.task.rounds.at(0);
    const waitingFor =
      provisional.task.status === 'pending' && round !== undefined
        ? unreachableOf(
            round.asked.filter(
              (operator) => !round.replies.some((reply) => sameAddress(reply.operator, operator)),
            ),
          )
        : [];
    // Operators answer a task of the previous epoch only for a grace period after adopting the
    // next one, then refuse it as stale: once this node advanced past the task's epoch, waiting
    // longer would turn every answer into a refusal (short epochs, as on a devnet).
    const epochMovedOn = (deps.epochs?.currentEpoch?.() ?? record.epoch) > record.epoch;
    const openByMs = epochMovedOn
      ? now
      : Math.min(startedAtMs + reconnect.windowMs, record.expiresAtMs - config.responseDeadlineMs);
    const noneReachable = round !== undefined && waitingFor.length === round.asked.length;
    const wait =
      waitingFor.length > 0 &&
      ((now < openByMs && !canSucceed(provisional.task, waitingFor)) ||
        (noneReachable && now < record.expiresAtMs));
    if (wait) {
      if (task.timer === undefined) {
        log.info('task waits for its operators to reconnect', {
          taskId: record.taskId,
          unreachable: waitingFor.length,
          asked: round?.asked.length ?? 0,
        });
      }
      task.progress = provisional.task;
      armOpeningCheck(task);
      return;
    }
    task.timer?.cancel();
    task.timer = undefined;
    task.opening = undefined;
    if (now >= record.expiresAtMs) {
      // Nobody it would ask could hear it before its deadline: it expires without a round.
      task.progress = { ...provisional.task, status: 'expired', rounds: [] };
      live.delete(record.taskId);
      await end(task, 'expired', 'no operator reachable before the deadline');
      await saveAnswers(task);
      await finishCollection(task);
      return;
    }
    if (now > opening.waitedSinceMs) {
      log.info('task round opens after waiting for operators', {
        taskId: record.taskId,
        waitedMs: now - opening.waitedSinceMs,
        unreachable: waitingFor.length,
      });
    }
    task.progress = provisional.task;
    await apply(task, provisional.events);
  }

  /**
   * Whether the first round can reach the threshold without the `unreachable` operators: the
   * signatures held plus the weight of every other asked operator that has not answered yet.
   */
  function canSucceed(progress: TaskProgress, unreachable: readonly Address[]): boolean {
    const round = progress.rounds.at(0);
    if (round === undefined) return false;
    const hopeful = round.asked.filter(
      (operator) =>
        !unreachable.some((away) => sameAddress(away, operator)) &&
        !round.replies.some((reply) => sameAddress(reply.operator, operator)),
    );
    const weightOf = (operator: Address) =>
      progress.epochOperators.find((o) => sameAddress(o.operator, operator))?.weightWei ?? 0n;
    return reachesThreshold({
      signedWeightWei: progress.signedWeightWei + sumWeightsWei(hopeful.map(weightOf)),
      thresholdWeightWei: progress.thresholdWeightWei,
      signerCount: progress.signatures.length + hopeful.length,
    });
  }

  function armOpeningCheck(task: LiveTask): void {
    task.timer?.cancel();
    task.timer = undefined;
    if (!running) return;
    const { taskId } = task.record;
    task.timer = clock.setTimer(reconnect.checkIntervalMs, () => {
      void serial.run(taskId, async () => {
        const current = live.get(taskId);
        if (!current || !running || current !== task) return;
        await step(current, () => openWhenReachable(current));
      });
    });
  }

  /** Performs the I/O a reducer step asks for, then arms the next wake-up. */
  async function apply(task: LiveTask, events: readonly TaskEvent[]): Promise<void> {
    const { taskId } = task.record;
    for (const event of events) {
      switch (event.kind) {
        case 'roundStarted':
          if (event.round > 0) {
            await saveAnswers(task);
            await store.tasks.recordRetry(taskId);
          }
          await publishTask(task, event.round, event.asked, event.deadlineAtMs);
          break;
        case 'operatorMissed': {
          const { suspendedNow } = await store.operators.recordMiss(event.operator, {
            suspendAtMisses: MISSES_BEFORE_SUSPENSION,
            taskId,
          });
          log.info('operator missed', { taskId, operator: event.operator, reason: event.reason });
          if (suspendedNow) log.warn('operator suspended', { operator: event.operator });
          break;
        }
        case 'completed':
          await complete(task, event);
          break;
        case 'failed':
          await end(task, 'failed', event.reason);
          break;
        case 'expired':
          await end(task, 'expired', 'no proof before the deadline');
          break;
        case 'replyIgnored':
          log.debug('reply ignored', { taskId, operator: event.operator, reason: event.reason });
          break;
      }
    }
    await schedule(task);
  }

  /** Arms the task's next wake-up, or, once nothing is left to do, acks its collection job. */
  async function schedule(task: LiveTask): Promise<void> {
    task.timer?.cancel();
    task.timer = undefined;
    const { taskId } = task.record;
    const wakeAt = nextWakeUpAtMs(task.progress);
    if (wakeAt === null) {
      live.delete(taskId);
      await saveAnswers(task);
      await finishCollection(task);
      return;
    }
    if (!running) return;
    task.timer = clock.setTimer(Math.max(0, wakeAt - clock.now()), () => {
      void serial.run(taskId, async () => {
        const current = live.get(taskId);
        if (!current || !running) return;
        await step(current, async () => {
          const next = advanceTaskTime(current.progress, clock.now());
          current.progress = next.task;
          await apply(current, next.events);
        });
      });
    });
  }

  /**
   * Stores the task's buffered answers in one call. Why buffering is safe: only a proof needs its
   * signers' answers stored (the store refuses a completion without them), and those are written
   * right before the completion's transaction (`complete`). Answers lost in a crash before they were
   * saved cost a round, not a task: the collection taken up again asks the operators in a new
   * round and they re-send their one stored decision. A failed write keeps them for the next.
   */
  async function saveAnswers(task: LiveTask) {
    if (task.unsaved.length === 0) return;
    const batch = task.unsaved;
    task.unsaved = [];
    try {
      await store.operatorResponses.recordMany(batch);
    } catch (error) {
      task.unsaved = [...batch, ...task.unsaved];
      throw error;
    }
  }

  async function finishCollection(task: LiveTask): Promise<void> {
    try {
      await store.queue.ack(task.lease, { result: { status: task.progress.status } });
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
      log.debug('collection job already settled', {
        taskId: task.record.taskId,
        reason: error.reason,
      });
    }
    worker.notify();
  }

  async function publishTask(
    task: LiveTask,
    round: number,
    asked: readonly Address[],
    deadlineAtMs: number,
  ) {
    const byTimestamp = task.query.timestampSec !== undefined;
    const message = encodeTask({
      taskId: task.record.taskId,
      chainId: task.record.chainId,
      targetAddress: task.record.targetAddress,
      key: task.record.key,
      blockNumber: task.record.blockNumber,
      timestampSec: task.record.timestampSec,
      byTimestamp,
      value: task.record.value,
      epoch: task.record.epoch,
      round: task.roundOffset + round,
      respondByMs: deadlineAtMs,
      selectedOperators: asked,
      historyBlockNumber: task.history.blockNumber,
      historyTimestampSec: task.history.timestampSec,
    });
    await network.publish(TOPICS.task, message);
    log.debug('task published', { taskId: task.record.taskId, round, asked: asked.length });
  }

  async function complete(task: LiveTask, event: Extract<TaskEvent, { kind: 'completed' }>) {
    const set = buildSignatureSet({
      secp256k1,
      digest: task.record.taskId,
      referenceEpoch: task.record.epoch,
      responses: event.signatures,
      epochOperators: task.epochOperators,
      thresholdWeightWei: task.progress.thresholdWeightWei,
      verified: task.verified,
    });
    // The signers' answers are stored (one call) before the proof that needs them; not inside
    // the completion's transaction: there, concurrent completions sharing operators deadlock on
    // Postgres (the answers' foreign-key locks against the counters' updates).
    await saveAnswers(task);
    // Proof, status, counters and the deliveries' wake-up commit together (idempotent finalize).
    const result = await store.transaction(async (tx) => {
      const completion = await tx.completeTask({
        taskId: task.record.taskId,
        signers: set.operators,
        signatureData: set.signatureData,
        respondedAtMs: clock.now(),
      });
      await tx.queue.wake({ groupKey: task.record.taskId, queues: DELIVERY_QUEUES });
      return completion;
    });
    log.info('task completed', {
      taskId: task.record.taskId,
      signers: set.operators.length,
      signedWeightWei: set.signedWeightWei.toString(),
      firstTime: result.completed,
    });
    if (!result.completed) return; // another aggregator completed it first
    worker.notify();
    await publishResult(task.record, {
      status: 'completed',
      operators: [...set.operators],
      signatures: [...set.signatures],
      signatureData: set.signatureData,
    });
    emit({ taskId: task.record.taskId, status: 'completed' });
  }

  async function end(task: LiveTask, status: 'failed' | 'expired', reason: string) {
    const { taskId } = task.record;
    const changed = await store.transaction(async (tx) => {
      const ended = await endIfPending(tx, taskId, status);
      await tx.queue.wake({ groupKey: taskId, queues: DELIVERY_QUEUES });
      return ended;
    });
    if (!changed) return;
    worker.notify();
    log.info(`task ${status}`, { taskId, reason });
    await publishResult(task.record, { status, failureReason: reason });
    emit({ taskId, status });
  }

  async function publishResult(
    record: RegistryTaskRecord,
    outcome:
      | { status: 'completed'; operators: Address[]; signatures: Hex[]; signatureData: Hex }
      | { status: 'failed' | 'expired'; failureReason: string },
  ) {
    const result: TaskResultMessage = {
      taskId: record.taskId,
      chainId: record.chainId,
      targetAddress: record.targetAddress,
      key: record.key,
      value: record.value,
      blockNumber: record.blockNumber,
      timestampSec: record.timestampSec,
      epoch: record.epoch,
      ...outcome,
    };
    await network.publish(TOPICS.result, encodeTaskResult(result));
  }

  function emit(event: TaskEndedEvent) {
    for (const listener of listeners) listener(event);
  }

  function reject(reason: RejectionReason, peer: PeerId): void {
    deps.reportRejection?.({ reason, channel: PROTOCOLS.response, peer });
  }

  /** `/spotted/response/1`: one operator's signature or refusal. */
  async function handleResponse(from: PeerId, data: Uint8Array): Promise<Uint8Array> {
    let message: TaskResponseMessage;
    try {
      message = decodeTaskResponse(data);
    } catch (error) {
      reject('malformed', from);
      return encodeTaskResponseAck({
        accepted: false,
        detail: `malformed response: ${String(error)}`.slice(0, 500),
      });
    }
    const boundOperator = peers.operatorOf(from);
    if (!boundOperator || !sameAddress(boundOperator, message.operator)) {
      log.warn('response from a peer not bound to that operator', {
        from,
        operator: message.operator,
      });
      reject('not_operator', from);
      return encodeTaskResponseAck({
        accepted: false,
        detail: 'this peer did not join as that operator',
      });
    }
    const task = live.get(message.taskId);
    if (!task) {
      reject('unknown_task', from);
      return encodeTaskResponseAck({ accepted: false, detail: 'unknown or finished task' });
    }
    if (message.epoch !== task.record.epoch) {
      reject('unknown_task', from);
      return encodeTaskResponseAck({
        accepted: false,
        detail: `task is of epoch ${task.record.epoch}`,
      });
    }
    await serial.run(message.taskId, async () => {
      const current = live.get(message.taskId);
      if (!current) return;
      const reply = recordResponse(current, message);
      await step(current, async () => {
        if (current.opening) {
          // Its round has not opened yet (an answer to a round sent before a restart): kept for it.
          if (reply.kind !== 'invalidSignature') current.opening.storedReplies.push(reply);
          await openWhenReachable(current);
          return;
        }
        const next = recordReply(current.progress, reply, clock.now());
        current.progress = next.task;
        await apply(current, next.events);
      });
    });
    return encodeTaskResponseAck({ accepted: true, detail: '' });
  }

  /**
   * Verifies a response and buffers it for storing (`saveAnswers`); an invalid signature is not
   * stored and counts as a miss.
   */
  function recordResponse(task: LiveTask, message: TaskResponseMessage): OperatorReply {
    const base = {
      taskId: message.taskId,
      operatorAddress: message.operator,
      epoch: message.epoch,
      submittedAtMs: clock.now(),
    };
    if (message.kind === 'refused') {
      task.unsaved.push({ ...base, outcome: 'refused', refusalReason: message.reason });
      log.info('operator refused', {
        taskId: message.taskId,
        operator: message.operator,
        reason: message.reason,
      });
      return { kind: 'refused', operator: message.operator, reason: message.reason };
    }
    const epochOperator = task.epochOperators.find((o) =>
      sameAddress(o.operator, message.operator),
    );
    const check = verifyOperatorSignature({
      secp256k1,
      digest: message.taskId,
      epochOperator,
      signature: message.signature,
    });
    if (!check.valid) {
      // A key rotated out for this epoch lands here too: only the epoch's signing key counts.
      const peer = peers.peerOf(message.operator);
      if (peer !== undefined) reject('invalid_signature', peer);
      log.warn('invalid signature discarded', {
        taskId: message.taskId,
        operator: message.operator,
        reason: check.reason,
      });
      return { kind: 'invalidSignature', operator: message.operator };
    }
    task.unsaved.push({ ...base, outcome: 'signed', signature: check.signature });
    task.verified.set(addressKey(message.operator), check.signature);
    return { kind: 'signed', operator: message.operator, signature: check.signature };
  }

  /**
   * At start: pending tasks without a collection job (stored by a build before the queue) get
   * one; pending tasks whose collection was given up end failed.
   */
  async function reconcile(): Promise<void> {
    const pending = await store.tasks.listByStatus('pending', { limit: RECONCILE_LIMIT });
    for (const record of pending) {
      const job = await store.queue.getByKey(QUEUES.collect, record.taskId);
      if (!job) {
        await store.queue.enqueue(
          collectJob(
            {
              taskId: record.taskId,
              byTimestamp: record.timestampSec > 0n || record.blockNumber === 0n,
              historyBlockNumber: record.blockNumber,
              historyTimestampSec: record.timestampSec,
            },
            { maxAttempts: queueOptions.collectMaxAttempts },
          ),
        );
      } else if (job.status === 'failed') {
        const changed = await store.transaction(async (tx) => {
          const ended = await endIfPending(tx, record.taskId, 'failed');
          await tx.queue.wake({ groupKey: record.taskId, queues: DELIVERY_QUEUES });
          return ended;
        });
        if (changed) {
          const reason = job.deadLetterReason ?? 'collection given up';
          log.warn('task failed: its collection was given up', { taskId: record.taskId, reason });
          emit({ taskId: record.taskId, status: 'failed' });
        }
      }
    }
  }

  /** Keeps the leases of live tasks; a task whose lease another worker took is dropped here. */
  async function renewLeases(signal: AbortSignal): Promise<void> {
    const everyMs = Math.max(1, Math.floor(collectLeaseMs / 3));
    while (!signal.aborted) {
      await clock.sleep(everyMs, { signal }).catch(() => {});
      if (signal.aborted) return;
      const leases = [...live.values()].map((task) => task.lease);
      if (leases.length === 0) continue;
      try {
        const { lost } = await store.queue.extendLeases(leases, { leaseMs: collectLeaseMs });
        const sameLease = (a: JobLease, b: JobLease) =>
          a.jobId === b.jobId && a.attempt === b.attempt;
        for (const lease of lost) {
          const entry = [...live.values()].find((task) => sameLease(task.lease, lease));
          if (!entry) continue;
          const { taskId } = entry.record;
          void serial.run(taskId, async () => {
            const task = live.get(taskId);
            if (!task || !sameLease(task.lease, lease)) return;
            task.timer?.cancel();
            live.delete(taskId);
            log.warn('lease lost: another aggregator collects this task now', {
              taskId,
              jobId: lease.jobId,
            });
          });
        }
      } catch (error) {
        log.warn('lease renewal failed; retrying', { error: String(error) });
      }
    }
  }

  return {
    workerId,
    async start() {
      running = true;
      startedAtMs = clock.now();
      await network.handle(
        PROTOCOLS.response,
        (request) => handleResponse(request.from, request.data),
        {
          maxRequestBytes: MAX_TASK_RESPONSE_BYTES,
        },
      );
      // Leases an earlier run of this node held are ours: take them back now, not after they run out.
      const released = await store.queue.releaseLeases({ workerId });
      if (released > 0) log.info('jobs of the previous run released', { count: released });
      await reconcile();
      const stop = new AbortController();
      renewal = { stop, loop: renewLeases(stop.signal) };
      worker.start();
    },
    async stop() {
      running = false;
      renewal?.stop.abort();
      await renewal?.loop;
      renewal = undefined;
      await worker.stop();
      await network.unhandle(PROTOCOLS.response).catch(() => {});
      for (const task of live.values()) task.timer?.cancel();
      await serial.drain();
      for (const task of live.values()) {
        task.timer?.cancel();
        // A graceful stop keeps the answers a restart would otherwise ask for again.
        await saveAnswers(task).catch((error: unknown) =>
          log.warn('answers not saved at stop', {
            taskId: task.record.taskId,
            error: String(error),
          }),
        );
      }
      const held = live.size;
      live.clear();
      // Give the collections back so a restart or another aggregator continues at once.
      if (held > 0) {
        await store.queue
          .releaseLeases({ workerId })
          .catch((error: unknown) =>
            log.warn('could not release leases; they run out instead', { error: String(error) }),
          );
      }
    },
    requestProof,
    getProof: (taskId) => readProofView(store, taskId),
    liveTaskCount: () => live.size,
    onTaskEnded(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    queueStats: () => store.queue.stats(),
  };
}
