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
import type { RegistryStore } from '../store/registry/registry-store.ts';
import type { RegistryTaskRecord } from '../store/registry/tasks.ts';
import { encodeTask } from '../wire/task.ts';
import {
  decodeTaskResponse,
  encodeTaskResponseAck,
  MAX_TASK_RESPONSE_BYTES,
  type TaskResponseMessage,
} from '../wire/task-response.ts';
import { encodeTaskResult, type TaskResultMessage } from '../wire/task-result.ts';
import { ProofRequestError } from './errors.ts';
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
}

export interface AggregatorOptions {
  /** Deadlines, retries, expiry and selection; defaults: 3 s, 3 retries, 15 s, all active. */
  round?: Partial<TaskRoundConfig>;
  /** Tasks collected at once; further requests are refused as OVERLOADED. */
  maxLiveTasks?: number;
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
  /** Accepts a proof request: reads the chain, creates (or finds) the task, starts collecting. */
  requestProof(query: ProofQuery): Promise<ProofRequestOutcome>;
  getProof(taskId: Hex): Promise<ProofView | undefined>;
  /** Tasks being collected right now. */
  liveTaskCount(): number;
  onTaskEnded(listener: (event: TaskEndedEvent) => void): () => void;
}

/** One task being collected: its reducer state plus what the messages need. */
interface LiveTask {
  record: RegistryTaskRecord;
  query: ProofQuery;
  history: { blockNumber: bigint; timestampSec: bigint };
  epochOperators: readonly EpochOperator[];
  progress: TaskProgress;
  timer: TimerHandle | undefined;
}

const DEFAULT_MAX_LIVE_TASKS = 1_000;
/** Pending tasks resumed per batch at start. */
const RESUME_BATCH = 100;

/**
 * The aggregator (SPEC §3 "Task"): turns a proof request into a task, sends it to an operator
 * set of the epoch, collects signatures and refusals over `/spotted/response/1`, retries without
 * refusers and non-responders, counts misses (5 → suspended) and successes, and publishes the
 * outcome on `/spotted/result/1`. The round logic is the pure reducer in `core/task-round.ts`;
 * this file only does the I/O around it, one task at a time per task id.
 */
export function createAggregator(
  deps: AggregatorDeps,
  options: AggregatorOptions = {},
): Aggregator {
  const { clock, network, chains, store, secp256k1, peers } = deps;
  const log = deps.log.child('aggregator');
  const config: TaskRoundConfig = { ...DEFAULT_TASK_ROUND_CONFIG, ...options.round };
  const maxLiveTasks = options.maxLiveTasks ?? DEFAULT_MAX_LIVE_TASKS;
  const live = new Map<Hex, LiveTask>();
  const listeners = new Set<(event: TaskEndedEvent) => void>();
  const queue = createSerialQueue((taskId, error) =>
    log.error('task step failed', { taskId, error: String(error) }),
  );
  let running = false;

  async function requestProof(query: ProofQuery): Promise<ProofRequestOutcome> {
    if (!running) throw new ProofRequestError('NOT_READY', 'the aggregator is not running');
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
    if (current) return { taskId, status: current.progress.status, created: false };
    if (live.size >= maxLiveTasks) {
      throw new ProofRequestError('OVERLOADED', `${live.size} tasks in flight; try again shortly`);
    }
    const { task, created } = await store.tasks.create({
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
    if (!created) return { taskId, status: task.status, created: false };
    const history = { blockNumber: entry.blockNumber, timestampSec: entry.timestampSec };
    await queue.run(taskId, () => begin(task, query, history, epochState.thresholdWeightWei));
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

  /** Opens a task's first round (new, or resumed after a restart) with the epoch's active set. */
  async function begin(
    record: RegistryTaskRecord,
    query: ProofQuery,
    history: LiveTask['history'],
    thresholdWeightWei: bigint,
  ): Promise<void> {
    const [snapshot, active] = await Promise.all([
      store.epochOperators.list(record.epoch),
      store.operators.listByStatus('active'),
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
    };
    live.set(record.taskId, task);
    log.info('task accepted', {
      taskId: record.taskId,
      epoch: record.epoch,
      operators: epochOperators.length,
    });
    await apply(task, step.events);
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
    schedule(task);
  }

  function schedule(task: LiveTask): void {
    task.timer?.cancel();
    task.timer = undefined;
    const { taskId } = task.record;
    const wakeAt = nextWakeUpAtMs(task.progress);
    if (wakeAt === null) {
      live.delete(taskId);
      return;
    }
    if (!running) return;
    task.timer = clock.setTimer(Math.max(0, wakeAt - clock.now()), () => {
      void queue.run(taskId, async () => {
        const current = live.get(taskId);
        if (!current || !running) return;
        const step = advanceTaskTime(current.progress, clock.now());
        current.progress = step.task;
        await apply(current, step.events);
      });
    });
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
      round,
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
    const result = await store.completeTask({
      taskId: task.record.taskId,
      signers: set.operators,
      signatureData: set.signatureData,
      respondedAtMs: clock.now(),
    });
    log.info('task completed', {
      taskId: task.record.taskId,
      signers: set.operators.length,
      signedWeightWei: set.signedWeightWei.toString(),
      firstTime: result.completed,
    });
    await publishResult(task, {
      status: 'completed',
      operators: [...set.operators],
      signatures: [...set.signatures],
      signatureData: set.signatureData,
    });
    emit({ taskId: task.record.taskId, status: 'completed' });
  }

  async function end(task: LiveTask, status: 'failed' | 'expired', reason: string) {
    await store.tasks.setStatus(task.record.taskId, status);
    log.info(`task ${status}`, { taskId: task.record.taskId, reason });
    await publishResult(task, { status, failureReason: reason });
    emit({ taskId: task.record.taskId, status });
  }

  async function publishResult(
    task: LiveTask,
    outcome:
      | { status: 'completed'; operators: Address[]; signatures: Hex[]; signatureData: Hex }
      | { status: 'failed' | 'expired'; failureReason: string },
  ) {
    const result: TaskResultMessage = {
      taskId: task.record.taskId,
      chainId: task.record.chainId,
      targetAddress: task.record.targetAddress,
      key: task.record.key,
      value: task.record.value,
      blockNumber: task.record.blockNumber,
      timestampSec: task.record.timestampSec,
      epoch: task.record.epoch,
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
    await queue.run(message.taskId, async () => {
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

  /** After a restart: expire what is past its deadline, collect the rest again. */
  async function resumePending(): Promise<void> {
    for (;;) {
      const pending = (await store.tasks.listByStatus('pending', { limit: RESUME_BATCH })).filter(
        (t) => !live.has(t.taskId),
      );
      if (pending.length === 0) return;
      for (const record of pending) {
        const epochState = await store.epochStates.get(record.epoch);
        const query: ProofQuery = {
          chainId: record.chainId,
          targetAddress: record.targetAddress,
          key: record.key,
          ...(record.timestampSec > 0n || record.blockNumber === 0n
            ? { timestampSec: record.timestampSec }
            : { blockNumber: record.blockNumber }),
        };
        if (record.expiresAtMs <= clock.now() || !epochState) {
          await queue.run(record.taskId, async () => {
            await store.tasks.setStatus(record.taskId, 'expired');
            emit({ taskId: record.taskId, status: 'expired' });
          });
          continue;
        }
        const history = { blockNumber: record.blockNumber, timestampSec: record.timestampSec };
        await queue.run(record.taskId, () =>
          begin(record, query, history, epochState.thresholdWeightWei),
        );
      }
      if (pending.length < RESUME_BATCH) return;
    }
  }

  return {
    async start() {
      running = true;
      await network.handle(
        PROTOCOLS.response,
        (request) => handleResponse(request.from, request.data),
        {
          maxRequestBytes: MAX_TASK_RESPONSE_BYTES,
        },
      );
      await resumePending();
    },
    async stop() {
      running = false;
      await network.unhandle(PROTOCOLS.response).catch(() => {});
      for (const task of live.values()) task.timer?.cancel();
      await queue.drain();
      for (const task of live.values()) task.timer?.cancel();
      live.clear();
    },
    requestProof,
    getProof: (taskId) => readProofView(store, taskId),
    liveTaskCount: () => live.size,
    onTaskEnded(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
