import type { Address, Hex } from 'viem';
import { addressKey, compareAddresses } from './address.ts';
import type { EpochOperator } from './epoch-state.ts';
import { InvalidTaskConfigError } from './errors.ts';
import { type SelectionStrategy, selectOperatorSet } from './operator-selection.ts';
import type { OperatorSignature } from './signature-set.ts';
import type { TaskStatus } from './task-status.ts';
import { reachesThreshold } from './weight.ts';

/**
 * One task's rounds and retries (SPEC §3) as a pure reducer. The aggregator feeds it replies and
 * clock ticks with the current time and acts on the events it returns (send the task to a new
 * round, count misses, deliver the proof); it never reads a clock itself.
 *
 * Time windows are half-open: a reply at `nowMs < deadlineAtMs` is in time, and at
 * `nowMs >= deadlineAtMs` the round is over; likewise for expiry.
 *
 * A round stays open for accounting until its deadline even after the task has completed or
 * expired: an operator that is slower than the quorum but within the deadline is not missing,
 * and a dead operator is missing even when the others complete the proof without it (otherwise
 * an operator below a third of the weight could never be suspended).
 */

export interface TaskRoundConfig {
  /** Rounds after the first; a task has at most `1 + maxRetries` rounds. */
  readonly maxRetries: number;
  /** How long a selected operator has to sign or refuse. */
  readonly responseDeadlineMs: number;
  /** From acceptance to `expired` when no proof is ready. */
  readonly expiryMs: number;
  readonly selection: SelectionStrategy;
}

export const DEFAULT_TASK_ROUND_CONFIG: TaskRoundConfig = {
  maxRetries: 3,
  responseDeadlineMs: 3_000,
  expiryMs: 15_000,
  selection: 'allActive',
};

/**
 * An operator's reply. The aggregator verifies a signature on arrival (`verifyOperatorSignature`)
 * and reports a bad one as `invalidSignature`, which counts against the sender like a miss.
 */
export type OperatorReply =
  | { readonly kind: 'signed'; readonly operator: Address; readonly signature: Hex }
  | { readonly kind: 'refused'; readonly operator: Address; readonly reason: string }
  | { readonly kind: 'invalidSignature'; readonly operator: Address };

export interface TaskRound {
  /** 0 for the first round, then 1 … maxRetries. */
  readonly index: number;
  /** Ascending by address. */
  readonly asked: readonly Address[];
  readonly startedAtMs: number;
  readonly deadlineAtMs: number;
  /** In arrival order; at most one per asked operator. */
  readonly replies: readonly OperatorReply[];
  readonly closed: boolean;
}

export type TaskFailureReason = 'thresholdUnreachable' | 'retriesExhausted';

export interface TaskProgress {
  readonly status: TaskStatus;
  readonly config: TaskRoundConfig;
  readonly epochOperators: readonly EpochOperator[];
  readonly thresholdWeightWei: bigint;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly rounds: readonly TaskRound[];
  /** Valid signatures collected while the task was pending, in arrival order. */
  readonly signatures: readonly OperatorSignature[];
  readonly signedWeightWei: bigint;
  readonly failureReason: TaskFailureReason | null;
}

export type TaskEvent =
  | {
      readonly kind: 'roundStarted';
      readonly round: number;
      readonly asked: readonly Address[];
      readonly deadlineAtMs: number;
    }
  | {
      readonly kind: 'replyIgnored';
      readonly operator: Address;
      readonly reason: 'notAsked' | 'duplicate' | 'roundClosed';
    }
  | {
      /** `missing += 1` for this operator. */
      readonly kind: 'operatorMissed';
      readonly operator: Address;
      readonly round: number;
      readonly reason: 'noResponse' | 'invalidSignature';
    }
  | {
      /** The proof is ready: these signatures reach the threshold. */
      readonly kind: 'completed';
      readonly signatures: readonly OperatorSignature[];
      readonly signedWeightWei: bigint;
    }
  | { readonly kind: 'failed'; readonly reason: TaskFailureReason }
  | { readonly kind: 'expired' };

export interface TaskStep {
  readonly task: TaskProgress;
  readonly events: readonly TaskEvent[];
}

/**
 * Accepts a task at `nowMs` and opens its first round, or fails it at once when the epoch's
 * operators cannot reach the threshold.
 */
export function startTask(args: {
  epochOperators: readonly EpochOperator[];
  thresholdWeightWei: bigint;
  nowMs: number;
  /** Overrides of DEFAULT_TASK_ROUND_CONFIG. */
  config?: Partial<TaskRoundConfig>;
}): TaskStep {
  const config: TaskRoundConfig = { ...DEFAULT_TASK_ROUND_CONFIG, ...args.config };
  assertValidConfig(config);
  const task: TaskProgress = {
    status: 'pending',
    config,
    epochOperators: args.epochOperators,
    thresholdWeightWei: args.thresholdWeightWei,
    createdAtMs: args.nowMs,
    expiresAtMs: args.nowMs + config.expiryMs,
    rounds: [],
    signatures: [],
    signedWeightWei: 0n,
    failureReason: null,
  };
  return startNextRound(task, args.nowMs);
}

/** Records one operator reply received at `nowMs`. */
export function recordReply(task: TaskProgress, reply: OperatorReply, nowMs: number): TaskStep {
  const ticked = advanceTaskTime(task, nowMs);
  const events = [...ticked.events];
  const round = ticked.task.rounds.at(-1);
  const ignore = (reason: 'notAsked' | 'duplicate' | 'roundClosed'): TaskStep => ({
    task: ticked.task,
    events: [...events, { kind: 'replyIgnored', operator: reply.operator, reason }],
  });
  if (round === undefined || round.closed) return ignore('roundClosed');
  const key = addressKey(reply.operator);
  if (!round.asked.some((operator) => addressKey(operator) === key)) return ignore('notAsked');
  if (round.replies.some((earlier) => addressKey(earlier.operator) === key)) {
    return ignore('duplicate');
  }

  let next: TaskProgress = replaceCurrentRound(ticked.task, {
    ...round,
    replies: [...round.replies, reply],
  });
  if (reply.kind === 'invalidSignature') {
    events.push({
      kind: 'operatorMissed',
      operator: reply.operator,
      round: round.index,
      reason: 'invalidSignature',
    });
  }
  if (reply.kind === 'signed' && next.status === 'pending') {
    next = addSignature(next, { operator: reply.operator, signature: reply.signature });
    if (
      reachesThreshold({
        signedWeightWei: next.signedWeightWei,
        thresholdWeightWei: next.thresholdWeightWei,
        signerCount: next.signatures.length,
      })
    ) {
      next = { ...next, status: 'completed' };
      events.push({
        kind: 'completed',
        signatures: next.signatures,
        signedWeightWei: next.signedWeightWei,
      });
    }
  }
  const current = next.rounds.at(-1);
  if (current !== undefined && current.replies.length === current.asked.length) {
    const closed = closeCurrentRound(next, nowMs);
    return { task: closed.task, events: [...events, ...closed.events] };
  }
  return { task: next, events };
}

/**
 * Applies the passage of time up to `nowMs`: expiry first (so no retry starts for a task that is
 * already too late), then the current round's deadline.
 */
export function advanceTaskTime(task: TaskProgress, nowMs: number): TaskStep {
  let next = task;
  const events: TaskEvent[] = [];
  if (next.status === 'pending' && nowMs >= next.expiresAtMs) {
    next = { ...next, status: 'expired' };
    events.push({ kind: 'expired' });
  }
  const round = next.rounds.at(-1);
  if (round !== undefined && !round.closed && nowMs >= round.deadlineAtMs) {
    const closed = closeCurrentRound(next, nowMs);
    next = closed.task;
    events.push(...closed.events);
  }
  return { task: next, events };
}

/** When the aggregator must call `advanceTaskTime` next; null once nothing is left to decide. */
export function nextWakeUpAtMs(task: TaskProgress): number | null {
  const candidates: number[] = [];
  if (task.status === 'pending') candidates.push(task.expiresAtMs);
  const round = task.rounds.at(-1);
  if (round !== undefined && !round.closed) candidates.push(round.deadlineAtMs);
  return candidates.length === 0 ? null : Math.min(...candidates);
}

/** Retries started so far (rounds after the first). */
export function retryCount(task: TaskProgress): number {
  return Math.max(0, task.rounds.length - 1);
}

/** Final status and no round left open for accounting: the task can be forgotten. */
export function isTaskSettled(task: TaskProgress): boolean {
  return task.status !== 'pending' && nextWakeUpAtMs(task) === null;
}

/**
 * Ends the current round: asked operators without a reply are missing. A pending task then
 * retries without everyone who refused, signed invalidly or missed in any round, or fails.
 */
function closeCurrentRound(task: TaskProgress, nowMs: number): TaskStep {
  const round = task.rounds.at(-1);
  if (round === undefined || round.closed) return { task, events: [] };
  const repliedKeys = new Set(round.replies.map((reply) => addressKey(reply.operator)));
  const events: TaskEvent[] = round.asked
    .filter((operator) => !repliedKeys.has(addressKey(operator)))
    .map((operator) => ({
      kind: 'operatorMissed',
      operator,
      round: round.index,
      reason: 'noResponse',
    }));
  const closed = replaceCurrentRound(task, { ...round, closed: true });
  if (closed.status !== 'pending') return { task: closed, events };
  if (retryCount(closed) >= closed.config.maxRetries) {
    return {
      task: { ...closed, status: 'failed', failureReason: 'retriesExhausted' },
      events: [...events, { kind: 'failed', reason: 'retriesExhausted' }],
    };
  }
  const next = startNextRound(closed, nowMs);
  return { task: next.task, events: [...events, ...next.events] };
}

function startNextRound(task: TaskProgress, nowMs: number): TaskStep {
  const selection = selectOperatorSet({
    epochOperators: task.epochOperators,
    thresholdWeightWei: task.thresholdWeightWei,
    excluded: excludedOperators(task),
    alreadySigned: task.signatures.map((entry) => entry.operator),
    strategy: task.config.selection,
  });
  const signedKeys = new Set(task.signatures.map((entry) => addressKey(entry.operator)));
  const asked =
    selection.kind === 'selected'
      ? selection.operators
          .map((candidate) => candidate.operator)
          .filter((operator) => !signedKeys.has(addressKey(operator)))
          .sort(compareAddresses)
      : [];
  if (asked.length === 0) {
    return {
      task: { ...task, status: 'failed', failureReason: 'thresholdUnreachable' },
      events: [{ kind: 'failed', reason: 'thresholdUnreachable' }],
    };
  }
  const round: TaskRound = {
    index: task.rounds.length,
    asked,
    startedAtMs: nowMs,
    deadlineAtMs: nowMs + task.config.responseDeadlineMs,
    replies: [],
    closed: false,
  };
  return {
    task: { ...task, rounds: [...task.rounds, round] },
    events: [{ kind: 'roundStarted', round: round.index, asked, deadlineAtMs: round.deadlineAtMs }],
  };
}

/** Refusers, invalid signers and non-responders of every closed round. */
function excludedOperators(task: TaskProgress): Address[] {
  const excluded: Address[] = [];
  for (const round of task.rounds) {
    const signed = new Set(
      round.replies
        .filter((reply) => reply.kind === 'signed')
        .map((reply) => addressKey(reply.operator)),
    );
    excluded.push(...round.asked.filter((operator) => !signed.has(addressKey(operator))));
  }
  return excluded;
}

function addSignature(task: TaskProgress, entry: OperatorSignature): TaskProgress {
  const key = addressKey(entry.operator);
  const weightWei =
    task.epochOperators.find((candidate) => addressKey(candidate.operator) === key)?.weightWei ??
    0n;
  return {
    ...task,
    signatures: [...task.signatures, entry],
    signedWeightWei: task.signedWeightWei + weightWei,
  };
}

function replaceCurrentRound(task: TaskProgress, round: TaskRound): TaskProgress {
  return { ...task, rounds: [...task.rounds.slice(0, -1), round] };
}

function assertValidConfig(config: TaskRoundConfig): void {
  if (!Number.isSafeInteger(config.maxRetries) || config.maxRetries < 0) {
    throw new InvalidTaskConfigError('maxRetries', config.maxRetries, 'a whole number ≥ 0');
  }
  for (const field of ['responseDeadlineMs', 'expiryMs'] as const) {
    if (!Number.isFinite(config[field]) || config[field] <= 0) {
      throw new InvalidTaskConfigError(field, config[field], 'a positive number of milliseconds');
    }
  }
}
