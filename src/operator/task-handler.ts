import type { Address, Hex } from 'viem';
import {
  ChainRpcError,
  ContractRevertError,
  InvalidChainArgumentError,
  UnknownChainError,
} from '../chain/errors.ts';
import { sameAddress } from '../core/address.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Chains, HistoryEntry, StateChain } from '../ports/chain.ts';
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
import type { RejectionReason, RejectionReporter } from '../ports/rejections.ts';
import type { Rng } from '../ports/rng.ts';
import { taskIdOfMessage } from '../protocol/task-fields.ts';
import { StoreConflictError } from '../store/errors.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import type { TaskAnswer } from '../store/task-answer.ts';
import { WireValidationError } from '../wire/errors.ts';
import { GossipRuleError, toGossipVerdict } from '../wire/gossip-verdict.ts';
import { MAX_DETAIL_CHARS } from '../wire/limits.ts';
import { decodeTask, MAX_TASK_BYTES, type TaskMessage } from '../wire/task.ts';
import {
  decodeTaskResponseAck,
  encodeTaskResponse,
  MAX_TASK_RESPONSE_ACK_BYTES,
  type RefusalReasonName,
  type TaskResponseMessage,
} from '../wire/task-response.ts';
import type { OperatorBehaviour, PlannedResponse } from './behaviour.ts';
import type { AdoptedEpoch, EpochView } from './epoch-follower.ts';
import { OperatorConfigError } from './errors.ts';
import type { KeyRing } from './key-ring.ts';
import {
  createBackgroundWork,
  createKeyedSerial,
  describeError,
  isAbortOf,
  sleepUnlessAborted,
} from './lifecycle.ts';
import { fromStoredAnswer, toStoredAnswer } from './stored-answer.ts';

/**
 * The task handler (SPEC §3 "Task", docs/node-architecture.md "Tasks"): takes tasks from
 * `/spotted/task/1` (published by a configured registry peer only), and for each task this
 * operator is selected for, re-reads the state chain at the query point and either signs the task
 * id it recomputed with the value it read, using its signing key of the task's epoch, or refuses
 * with a reason. The answer passes through the injected behaviour (honest by default), is
 * recorded in `tasks` / `task_responses`, and is sent to the task's publisher over
 * `/spotted/response/1`, retried a bounded number of times before the task's `respondByMs`.
 *
 * Each (task id, round) is answered at most once; the decision for a task is made once and
 * re-sent, unchanged, in any later round. An honest operator never signs a value other than the
 * one it read: it signs only `taskIdOfMessage(task)` computed with the value from the chain, and
 * only when that equals the task's id.
 *
 * Epochs: a task of the current epoch is answered with the current epoch state. A task of the
 * previous epoch is still answered during `previousEpochGraceMs` after the current state was
 * adopted (a task published just before the epoch advanced is still valid on chain: its
 * reference epoch is not in the future); later it is refused STALE_EPOCH. A task of a newer
 * epoch makes the node ask the registry for its latest state and wait up to `futureEpochWaitMs`
 * (never past `respondByMs`) for it; if it does not arrive, the task is refused STALE_EPOCH.
 */

export interface TaskHandlerDeps {
  clock: Clock;
  rng: Rng;
  network: Network;
  chains: Chains;
  store: OperatorStore;
  secp256k1: Secp256k1;
  keyRing: KeyRing;
  epochs: EpochView;
  behaviour: OperatorBehaviour;
  log: Logger;
  /** Told of refused task gossip (named reasons) for metrics and bans. */
  reportRejection?: RejectionReporter | undefined;
}

export interface TaskHandlerOptions {
  operator: Address;
  /** Tasks are accepted from these peers only. */
  registryPeerIds: readonly PeerId[];
  /** How long after adopting epoch E a task of epoch E − 1 is still answered. */
  previousEpochGraceMs: number;
  /** How long a task of a newer epoch waits for that epoch's state (bounded by respondByMs). */
  futureEpochWaitMs: number;
  /** One `/spotted/response/1` exchange. */
  responseTimeoutMs: number;
  /** Sends of one response, the first included; no retry starts at or after `respondByMs`. */
  maxSendAttempts: number;
  /** Wait before the n-th retry: n × this. */
  sendRetryDelayMs: number;
  /** Tasks being decided or sent at once; more are dropped (not answered, counted as missed). */
  maxTasksInFlight: number;
  /** (task id, round) pairs remembered to drop gossip duplicates; the oldest are forgotten. */
  maxRememberedRounds: number;
  /** Received tasks (and their responses) are deleted from the store after this long. */
  taskRetentionMs: number;
  /** How often old tasks are pruned. */
  pruneIntervalMs: number;
}

export const DEFAULT_TASK_HANDLER_OPTIONS: Omit<
  TaskHandlerOptions,
  'operator' | 'registryPeerIds'
> = {
  previousEpochGraceMs: 5_000,
  futureEpochWaitMs: 1_000,
  responseTimeoutMs: 2_000,
  maxSendAttempts: 3,
  sendRetryDelayMs: 100,
  maxTasksInFlight: 256,
  maxRememberedRounds: 10_000,
  taskRetentionMs: 60 * 60_000,
  pruneIntervalMs: 10 * 60_000,
};

/** How one planned response fared. */
export type DeliveryOutcome =
  /** The aggregator took it. */
  | 'accepted'
  /** The aggregator answered but did not take it (unknown task, wrong epoch, …). */
  | 'notAccepted'
  /** Every attempt failed (timeout, unreachable). */
  | 'failed'
  /** The node stopped first. */
  | 'aborted';

export interface TaskAnsweredEvent {
  readonly task: TaskMessage;
  /** The peer the answers went to (the task's publisher). */
  readonly to: PeerId;
  /**
   * The honest decision made for this round, or the stored answer re-sent (`resent`). What went
   * on the wire is `planned` (the behaviour's output; equal to the decision when honest).
   */
  readonly decision: TaskResponseMessage;
  readonly resent: boolean;
  readonly planned: readonly PlannedResponse[];
  readonly deliveries: readonly DeliveryOutcome[];
}

export interface TaskHandler {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when every task received so far has been answered (or dropped). */
  idle(): Promise<void>;
  onAnswered(listener: (event: TaskAnsweredEvent) => void): () => void;
}

/** What the honest decision found, and the epoch signer a behaviour may use. */
interface Decision {
  response: TaskResponseMessage;
  signWithEpochKey: ((digest: Hex) => Hex) | undefined;
}

const MESSAGE_TYPE = 'Task';

export function createTaskHandler(deps: TaskHandlerDeps, options: TaskHandlerOptions): TaskHandler {
  checkTaskHandlerOptions(options);
  const { clock, rng, network, chains, store, secp256k1, keyRing, epochs, behaviour } = deps;
  const log = deps.log.child('tasks');
  const registryPeers = new Set(options.registryPeerIds);
  /** Insertion-ordered, so the oldest entry is the first to forget. */
  const seenRounds = new Set<string>();
  const perTask = createKeyedSerial();
  const listeners = new Set<(event: TaskAnsweredEvent) => void>();
  const work = createBackgroundWork((name, error) =>
    log.error('task handling failed', { task: name, error: describeError(error) }),
  );
  const loops = createBackgroundWork((name, error) =>
    log.error('task handler loop failed', { loop: name, error: describeError(error) }),
  );
  let controller: AbortController | undefined;

  function handleGossip(message: GossipMessage): GossipVerdict {
    try {
      if (!registryPeers.has(message.from)) {
        log.warn('task from a peer that is not a registry', { from: message.from });
        throw new GossipRuleError(
          'UNKNOWN_SENDER',
          MESSAGE_TYPE,
          `published by ${message.from}, which is not a configured registry`,
        );
      }
      const task = decodeTask(message.data);
      // The epoch window: a task more than one epoch ahead of ours is no registry's honest task
      // (the registry publishes tasks of its current epoch), so it is dropped here rather than
      // making this node sync and wait for an epoch that may never come.
      const current = epochs.current();
      if (current !== undefined && task.epoch > current.epoch + 1) {
        report('epoch_out_of_window', message.from);
        throw new GossipRuleError(
          'PREMATURE',
          MESSAGE_TYPE,
          `task of epoch ${task.epoch}, this operator is at epoch ${current.epoch}`,
        );
      }
      if (!task.selectedOperators.some((operator) => sameAddress(operator, options.operator))) {
        return toGossipVerdict(undefined); // for other operators: forward it
      }
      const roundKey = `${task.taskId}#${task.round}`;
      if (seenRounds.has(roundKey)) {
        throw new GossipRuleError(
          'DUPLICATE',
          MESSAGE_TYPE,
          `task ${task.taskId} round ${task.round} again`,
        );
      }
      const signal = controller?.signal;
      if (signal === undefined) return 'ignore';
      if (work.size() >= options.maxTasksInFlight) {
        log.warn('task dropped: too many in flight', {
          taskId: task.taskId,
          inFlight: work.size(),
        });
        return 'ignore';
      }
      rememberRound(roundKey);
      work.run(roundKey, () =>
        perTask.run(task.taskId, async () => {
          try {
            await answer(task, message.from, signal);
          } catch (error) {
            if (!isAbortOf(signal, error)) throw error;
          }
        }),
      );
      return toGossipVerdict(undefined);
    } catch (error) {
      if (error instanceof GossipRuleError && error.code === 'UNKNOWN_SENDER')
        report('not_registry', message.from);
      if (error instanceof WireValidationError)
        report(error.code === 'MESSAGE_TOO_LARGE' ? 'oversize' : 'malformed', message.from);
      return toGossipVerdict(error);
    }
  }

  function report(reason: RejectionReason, peer: PeerId): void {
    deps.reportRejection?.({ reason, channel: TOPICS.task, peer });
  }

  function rememberRound(roundKey: string): void {
    seenRounds.add(roundKey);
    if (seenRounds.size > options.maxRememberedRounds) {
      const oldest = seenRounds.values().next();
      if (oldest.done !== true) seenRounds.delete(oldest.value);
    }
  }

  async function answer(task: TaskMessage, to: PeerId, signal: AbortSignal): Promise<void> {
    const base = {
      taskId: task.taskId,
      operator: options.operator,
      epoch: task.epoch,
      round: task.round,
    };
    const stored = await recordTask(task);
    let decision: TaskResponseMessage;
    let planned: readonly PlannedResponse[];
    let resent = false;
    if (stored.kind === 'answered') {
      decision = fromStoredAnswer(stored.answer, base);
      planned = [{ delayMs: 0, response: decision }];
      resent = true;
    } else {
      const honest = await decide(task, signal);
      decision = honest.response;
      planned = behaviour.plan(honest.response, {
        task,
        signWithEpochKey: honest.signWithEpochKey,
        secp256k1,
        rng,
      });
      const first = planned[0];
      if (first !== undefined && stored.kind === 'recorded') {
        const kept = await recordAnswer(task.taskId, first.response);
        if (kept !== undefined) {
          // Another round decided first: send what it decided, never a second decision.
          decision = fromStoredAnswer(kept, base);
          planned = [{ delayMs: 0, response: decision }];
          resent = true;
        }
      }
    }
    logDecision(task, decision, resent);
    const deliveries: DeliveryOutcome[] = [];
    for (const step of planned) {
      if (step.delayMs > 0 && !(await sleepUnlessAborted(clock, step.delayMs, signal))) {
        deliveries.push('aborted');
        break;
      }
      deliveries.push(await send(to, step.response, task.respondByMs, signal));
    }
    const event: TaskAnsweredEvent = { task, to, decision, resent, planned, deliveries };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        log.error('task listener threw', { error: describeError(error) });
      }
    }
  }

  type StoredTask =
    | { kind: 'recorded' }
    | { kind: 'answered'; answer: TaskAnswer }
    /** The store could not take it: answer anyway, nothing is recorded. */
    | { kind: 'unrecorded' };

  async function recordTask(task: TaskMessage): Promise<StoredTask> {
    try {
      const { created } = await store.tasks.create({
        taskId: task.taskId,
        targetAddress: task.targetAddress,
        chainId: task.chainId,
        blockNumber: task.byTimestamp ? 0n : task.blockNumber,
        timestampSec: task.byTimestamp ? task.timestampSec : 0n,
        epoch: task.epoch,
        key: task.key,
        value: task.value,
        expiresAtMs: task.respondByMs,
      });
      // A task stored just now cannot have an answer yet (task_responses references tasks):
      // only a task seen before needs the look-up.
      if (created) return { kind: 'recorded' };
      const stored = await store.taskResponses.get(task.taskId);
      return stored === undefined ? { kind: 'recorded' } : { kind: 'answered', answer: stored };
    } catch (error) {
      if (error instanceof StoreConflictError) {
        // The same id with other fields: one of the two messages does not hash to its id.
        log.warn('task id stored with other fields', {
          taskId: task.taskId,
          detail: error.message,
        });
      } else {
        log.error('could not record the task', {
          taskId: task.taskId,
          error: describeError(error),
        });
      }
      return { kind: 'unrecorded' };
    }
  }

  /** Records the answer; returns the answer stored before when there was one. */
  async function recordAnswer(
    taskId: Hex,
    response: TaskResponseMessage,
  ): Promise<TaskAnswer | undefined> {
    try {
      const { response: stored, recorded } = await store.taskResponses.record({
        taskId,
        submittedAtMs: clock.now(),
        ...toStoredAnswer(response),
      });
      return recorded ? undefined : stored;
    } catch (error) {
      log.error('could not record the answer', { taskId, error: describeError(error) });
      return undefined;
    }
  }

  async function decide(task: TaskMessage, signal: AbortSignal): Promise<Decision> {
    const base = {
      taskId: task.taskId,
      operator: options.operator,
      epoch: task.epoch,
      round: task.round,
    };
    let signWithEpochKey: ((digest: Hex) => Hex) | undefined;
    const refuse = (
      reason: RefusalReasonName,
      detail: string,
      observedValue: bigint | null = null,
    ): Decision => ({
      response: {
        ...base,
        kind: 'refused',
        reason,
        detail: detail.slice(0, MAX_DETAIL_CHARS),
        observedValue,
      },
      signWithEpochKey,
    });

    const epoch = await epochFor(task, signal);
    if (epoch === undefined) {
      const current = epochs.current();
      return refuse(
        'staleEpoch',
        `task of epoch ${task.epoch}; this operator is at epoch ${current === undefined ? 'none' : current.epoch}`,
      );
    }
    const signer = keyRing.signerFor(epoch, options.operator);
    if (signer.kind === 'notInEpoch') {
      return refuse('notActive', `not an active operator of epoch ${epoch.epoch}`);
    }
    if (signer.kind === 'missingKey') {
      log.error('no private key for this epoch’s signing key: configure it to sign', {
        epoch: epoch.epoch,
        signingKey: signer.signingKey,
        held: keyRing.signingKeys,
      });
      return refuse(
        'notActive',
        `no key for signing key ${signer.signingKey} of epoch ${epoch.epoch}`,
      );
    }
    signWithEpochKey = signer.sign;

    let stateChain: StateChain;
    try {
      stateChain = chains.state(task.chainId);
    } catch (error) {
      if (error instanceof UnknownChainError) return refuse('unknownChain', error.message);
      throw error;
    }
    let entry: HistoryEntry;
    try {
      entry = task.byTimestamp
        ? await stateChain.getHistoryAtTimestamp({
            user: task.targetAddress,
            key: task.key,
            timestampSec: task.timestampSec,
          })
        : await stateChain.getHistoryAtBlock({
            user: task.targetAddress,
            key: task.key,
            blockNumber: task.blockNumber,
          });
    } catch (error) {
      const refusal = refusalForReadError(error);
      if (refusal === undefined) throw error;
      if (refusal.reason === 'chainUnavailable') {
        log.warn('state chain read failed', { taskId: task.taskId, error: describeError(error) });
      }
      return refuse(refusal.reason, refusal.detail);
    }
    if (entry.value !== task.value) {
      return refuse(
        'valueMismatch',
        `the chain has ${entry.value} at the query point, the task says ${task.value}`,
        entry.value,
      );
    }
    // The id is recomputed with the value read from the chain: that is the only thing signed.
    const ownTaskId = taskIdOfMessage({ ...task, value: entry.value });
    if (ownTaskId.toLowerCase() !== task.taskId.toLowerCase()) {
      return refuse(
        'malformedTask',
        `the task's fields hash to ${ownTaskId}, not to its id ${task.taskId}`,
        entry.value,
      );
    }
    return {
      response: { ...base, kind: 'signed', signature: signer.sign(ownTaskId) },
      signWithEpochKey,
    };
  }

  /** The adopted epoch state a task of `task.epoch` is answered with, if any. */
  async function epochFor(
    task: TaskMessage,
    signal: AbortSignal,
  ): Promise<AdoptedEpoch | undefined> {
    const pick = (): AdoptedEpoch | undefined => {
      const current = epochs.current();
      if (current === undefined) return undefined;
      if (current.epoch === task.epoch) return current;
      const previous = epochs.previous();
      if (
        previous !== undefined &&
        previous.epoch === task.epoch &&
        clock.now() - current.adoptedAtMs <= options.previousEpochGraceMs
      ) {
        return previous;
      }
      return undefined;
    };
    const picked = pick();
    if (picked !== undefined) return picked;
    const current = epochs.current();
    if (current !== undefined && task.epoch < current.epoch) return undefined;
    // A newer epoch than ours (or none yet): the registry advanced and its message may be on its way.
    epochs.requestSync(`task ${task.taskId} is of epoch ${task.epoch}`);
    const timeoutMs = Math.min(
      options.futureEpochWaitMs,
      Math.max(0, task.respondByMs - clock.now()),
    );
    await epochs.waitForEpoch(task.epoch, { timeoutMs, signal });
    return pick();
  }

  async function send(
    to: PeerId,
    response: TaskResponseMessage,
    respondByMs: number,
    signal: AbortSignal,
  ): Promise<DeliveryOutcome> {
    const bytes = encodeTaskResponse(response);
    for (let attempt = 1; attempt <= options.maxSendAttempts; attempt++) {
      if (signal.aborted) return 'aborted';
      if (attempt > 1 && clock.now() >= respondByMs) break;
      try {
        const reply = await network.request(to, PROTOCOLS.response, bytes, {
          timeoutMs: options.responseTimeoutMs,
          maxResponseBytes: MAX_TASK_RESPONSE_ACK_BYTES,
          signal,
        });
        const ack = decodeTaskResponseAck(reply);
        if (!ack.accepted) {
          log.info('the aggregator did not take the response', {
            taskId: response.taskId,
            to,
            detail: ack.detail,
          });
          return 'notAccepted';
        }
        return 'accepted';
      } catch (error) {
        if (signal.aborted) return 'aborted';
        log.debug('sending the response failed', {
          taskId: response.taskId,
          to,
          attempt,
          error: describeError(error),
        });
      }
      if (attempt < options.maxSendAttempts) {
        if (!(await sleepUnlessAborted(clock, options.sendRetryDelayMs * attempt, signal))) {
          return 'aborted';
        }
      }
    }
    log.warn('the response could not be delivered', { taskId: response.taskId, to });
    return 'failed';
  }

  function logDecision(task: TaskMessage, decision: TaskResponseMessage, resent: boolean): void {
    const data = {
      taskId: task.taskId,
      round: task.round,
      epoch: task.epoch,
      behaviour: behaviour.label,
      resent,
    };
    if (decision.kind === 'signed') log.debug('task signed', data);
    else log.info('task refused', { ...data, reason: decision.reason, detail: decision.detail });
  }

  async function pruneLoop(signal: AbortSignal): Promise<void> {
    while (await sleepUnlessAborted(clock, options.pruneIntervalMs, signal)) {
      try {
        const deleted = await store.tasks.deleteCreatedBefore(
          clock.now() - options.taskRetentionMs,
        );
        if (deleted > 0) log.debug('old tasks pruned', { deleted });
      } catch (error) {
        log.warn('pruning old tasks failed', { error: describeError(error) });
      }
    }
  }

  return {
    async start() {
      if (controller !== undefined) return;
      const own = new AbortController();
      controller = own;
      network.subscribe(TOPICS.task, handleGossip, { maxMessageBytes: MAX_TASK_BYTES });
      loops.run('prune', () => pruneLoop(own.signal));
    },

    async stop() {
      if (controller === undefined) return;
      network.unsubscribe(TOPICS.task);
      controller.abort(new Error('task handler stopped'));
      await Promise.all([work.settle(), loops.settle()]);
      controller = undefined;
    },

    idle: () => work.settle(),

    onAnswered(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Maps a failed state-chain read to a refusal; undefined for errors that are our own bug. */
function refusalForReadError(
  error: unknown,
): { reason: RefusalReasonName; detail: string } | undefined {
  if (error instanceof ContractRevertError) {
    if (error.errorName === 'NoHistoryFound') {
      return { reason: 'noHistory', detail: error.message };
    }
    // BlockNotFound / TimestampNotFound: this node's view of the chain has not reached the point.
    return { reason: 'chainUnavailable', detail: error.message };
  }
  if (error instanceof UnknownChainError) return { reason: 'unknownChain', detail: error.message };
  if (error instanceof InvalidChainArgumentError) {
    return { reason: 'malformedTask', detail: error.message };
  }
  if (error instanceof ChainRpcError) return { reason: 'chainUnavailable', detail: error.message };
  if (error instanceof Error) return { reason: 'chainUnavailable', detail: describeError(error) };
  return undefined;
}

function checkTaskHandlerOptions(options: TaskHandlerOptions): void {
  if (options.registryPeerIds.length === 0) {
    throw new OperatorConfigError('registryPeerIds', 'at least one registry peer is required');
  }
  const integers: [keyof TaskHandlerOptions, number][] = [
    ['previousEpochGraceMs', 0],
    ['futureEpochWaitMs', 0],
    ['responseTimeoutMs', 1],
    ['maxSendAttempts', 1],
    ['sendRetryDelayMs', 0],
    ['maxTasksInFlight', 1],
    ['maxRememberedRounds', 1],
    ['taskRetentionMs', 1],
    ['pruneIntervalMs', 1],
  ];
  for (const [field, minimum] of integers) {
    const value = options[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
      throw new OperatorConfigError(
        `tasks.${field}`,
        `must be an integer ≥ ${minimum}, got ${String(value)}`,
      );
    }
  }
}
