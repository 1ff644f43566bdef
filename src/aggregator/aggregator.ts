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
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Chains, HistoryEntry } from '../ports/chain.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { type Network, type PeerId, PROTOCOLS, TOPICS } from '../ports/network.ts';
import { type ProofQuery, taskIdFieldsFor } from '../protocol/task-fields.ts';
import { StoreConflictError } from '../store/errors.ts';
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
  /** The operator a responding peer joined as (the registry's peer directory). */
  peers: { operatorOf(peer: PeerId): Address | undefined };
  /** POSTs results to callback URLs; without it a request naming a callbackUrl is refused. */
  webhooks?: WebhookSender | undefined;
  /** Consumer contracts proofs can be submitted to, by destination chain. */
  consumers?: ConsumerChains | undefined;
}

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

export interface AggregatorOptions {
  /** Deadlines, retries, expiry and selection; defaults: 3 s, 3 retries, 15 s, all active. */
  round?: Partial<TaskRoundConfig>;
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
  const queueOptions = resolveQueueOptions(options.queue, network.peerId);
  const { workerId, collectLeaseMs } = queueOptions;
  const live = new Map<Hex, LiveTask>();
  const listeners = new Set<(event: TaskEndedEvent) => void>();
  const serial = createSerialQueue((taskId, error) =>
    log.error('task step failed', { taskId, error: String(error) }),
  );
  let running = false;
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
    await serial.call(taskId, async () => {
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
    });
  }

  /** Opens a task's first round (new, or taken up again) with the epoch's active set. */
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
    const now = clock.now();
    const step = startTask({
      epochOperators,
      thresholdWeightWei,
      nowMs: now,
      config: { ...config, expiryMs: Math.max(1, record.expiresAtMs - now) },
    });
    const task: LiveTask = {
      record,
      query,
      history,
      epochOperators,
      progress: step.task,
      timer: undefined,
      lease,
      roundOffset: (lease.attempt - 1) * (1 + config.maxRetries),
    };
    live.set(record.taskId, task);
    // Answers stored before a crash still count: fed to the reducer as if they arrived now.
    const events = [...step.events];
    for (const answer of answered) {
      const reply: OperatorReply =
        answer.outcome === 'signed'
          ? { kind: 'signed', operator: answer.operatorAddress, signature: answer.signature }
          : { kind: 'refused', operator: answer.operatorAddress, reason: answer.refusalReason };
      const next = recordReply(task.progress, reply, now);
      task.progress = next.task;
      events.push(...next.events);
    }
    log.info(lease.attempt > 1 ? 'task taken up again' : 'task accepted', {
      taskId: record.taskId,
      epoch: record.epoch,
      operators: epochOperators.length,
      attempt: lease.attempt,
      storedAnswers: answered.length,
    });
    await apply(task, events);
  }

  /** Performs the I/O a reducer step asks for, then arms the next wake-up. */
  async function apply(task: LiveTask, events: readonly TaskEvent[]): Promise<void> {
    const { taskId } = task.record;
    for (const event of events) {
      switch (event.kind) {
        case 'roundStarted':
          if (event.round > 0) await store.tasks.recordRetry(taskId);
          await publishTask(task, event.round, event.asked, event.deadlineAtMs);
          break;
        case 'operatorMissed': {
          const { suspendedNow } = await store.operators.recordMiss(event.operator, {
            suspendAtMisses: MISSES_BEFORE_SUSPENSION,
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
      await finishCollection(task);
      return;
    }
    if (!running) return;
    task.timer = clock.setTimer(Math.max(0, wakeAt - clock.now()), () => {
      void serial.run(taskId, async () => {
        const current = live.get(taskId);
        if (!current || !running) return;
        const step = advanceTaskTime(current.progress, clock.now());
        current.progress = step.task;
        await apply(current, step.events);
      });
    });
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
    });
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

  /** `/spotted/response/1`: one operator's signature or refusal. */
  async function handleResponse(from: PeerId, data: Uint8Array): Promise<Uint8Array> {
    let message: TaskResponseMessage;
    try {
      message = decodeTaskResponse(data);
    } catch (error) {
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
      return encodeTaskResponseAck({
        accepted: false,
        detail: 'this peer did not join as that operator',
      });
    }
    const task = live.get(message.taskId);
    if (!task)
      return encodeTaskResponseAck({ accepted: false, detail: 'unknown or finished task' });
    if (message.epoch !== task.record.epoch) {
      return encodeTaskResponseAck({
        accepted: false,
        detail: `task is of epoch ${task.record.epoch}`,
      });
    }
    await serial.run(message.taskId, async () => {
      const current = live.get(message.taskId);
      if (!current) return;
      const reply = await recordResponse(current, message);
      const step = recordReply(current.progress, reply, clock.now());
      current.progress = step.task;
      await apply(current, step.events);
    });
    return encodeTaskResponseAck({ accepted: true, detail: '' });
  }

  /** Verifies and stores a response; an invalid signature is not stored and counts as a miss. */
  async function recordResponse(
    task: LiveTask,
    message: TaskResponseMessage,
  ): Promise<OperatorReply> {
    const base = {
      taskId: message.taskId,
      operatorAddress: message.operator,
      epoch: message.epoch,
      submittedAtMs: clock.now(),
    };
    if (message.kind === 'refused') {
      await store.operatorResponses.record({
        ...base,
        outcome: 'refused',
        refusalReason: message.reason,
      });
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
      log.warn('invalid signature discarded', {
        taskId: message.taskId,
        operator: message.operator,
        reason: check.reason,
      });
      return { kind: 'invalidSignature', operator: message.operator };
    }
    await store.operatorResponses.record({
      ...base,
      outcome: 'signed',
      signature: check.signature,
    });
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
      for (const task of live.values()) task.timer?.cancel();
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
