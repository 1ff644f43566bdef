import { bytesToHex, type Hex } from 'viem';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import { SECP256K1_N } from '../crypto/signature-encoding.ts';
import type { Rng } from '../ports/rng.ts';
import { taskIdOfMessage } from '../protocol/task-fields.ts';
import type { TaskMessage } from '../wire/task.ts';
import type { TaskResponseMessage } from '../wire/task-response.ts';
import { OperatorConfigError } from './errors.ts';

/**
 * The seam the simulator uses to make an operator byzantine (SPEC §7). The task handler always
 * makes the honest decision first (read the chain, sign or refuse); the behaviour then turns it
 * into what is actually sent. Behaviours are plain data so that a scenario file can name them:
 *
 * - `honest`: send the decision.
 * - `silent`: send nothing (the aggregator counts a miss).
 * - `slow(delayMs)`: send the decision after `delayMs` on the node's clock.
 * - `wrongValue`: sign the task id computed with a different value (the task's value + 1) with the
 *   epoch key. When the operator has no epoch key to sign with (not active, stale epoch), it
 *   sends the honest refusal.
 * - `badSignature`: sign the task id with a fresh key that is not the epoch key.
 * - `equivocate`: send the decision and then a contradicting answer: a refusal after a
 *   signature, or a signature of the task id (with the epoch key, if it has one; otherwise a
 *   refusal with another reason) after a refusal.
 * - `flood(count)`: send the decision, then `count` bogus responses (random task ids, random
 *   signature bytes).
 *
 * Only the first planned response is recorded as the operator's answer in `task_responses`.
 */
export type OperatorBehaviourSpec =
  | { readonly kind: 'honest' }
  | { readonly kind: 'silent' }
  | { readonly kind: 'slow'; readonly delayMs: number }
  | { readonly kind: 'wrongValue' }
  | { readonly kind: 'badSignature' }
  | { readonly kind: 'equivocate' }
  | { readonly kind: 'flood'; readonly count: number };

export type OperatorBehaviourKind = OperatorBehaviourSpec['kind'];

export const OPERATOR_BEHAVIOUR_KINDS: readonly OperatorBehaviourKind[] = [
  'honest',
  'silent',
  'slow',
  'wrongValue',
  'badSignature',
  'equivocate',
  'flood',
];

/** Bounds on behaviour parameters: a scenario cannot make a node sleep for a day or send a million messages. */
export const MAX_SLOW_DELAY_MS = 10 * 60_000;
export const MAX_FLOOD_COUNT = 1_000;

/** What a behaviour may use besides the honest decision. */
export interface BehaviourContext {
  readonly task: TaskMessage;
  /** Signs a digest with the operator's key for the task's epoch; undefined when it has none. */
  readonly signWithEpochKey: ((digest: Hex) => Hex) | undefined;
  readonly secp256k1: Secp256k1;
  readonly rng: Rng;
}

export interface PlannedResponse {
  /** Wait this long on the clock before sending (0: at once). */
  readonly delayMs: number;
  readonly response: TaskResponseMessage;
}

export interface OperatorBehaviour {
  readonly spec: OperatorBehaviourSpec;
  /** A short label for logs and traces, e.g. `slow(5000)`. */
  readonly label: string;
  /** What to send, in order, for this decision. */
  plan(honest: TaskResponseMessage, context: BehaviourContext): readonly PlannedResponse[];
}

export const HONEST_BEHAVIOUR_SPEC: OperatorBehaviourSpec = { kind: 'honest' };

/** Validates a spec (an OperatorConfigError names the bad parameter) and builds the behaviour. */
export function createBehaviour(spec: OperatorBehaviourSpec): OperatorBehaviour {
  const checked = checkBehaviourSpec(spec);
  return {
    spec: checked,
    label: behaviourLabel(checked),
    plan: (honest, context) => plan(checked, honest, context),
  };
}

export function behaviourLabel(spec: OperatorBehaviourSpec): string {
  switch (spec.kind) {
    case 'slow':
      return `slow(${spec.delayMs})`;
    case 'flood':
      return `flood(${spec.count})`;
    default:
      return spec.kind;
  }
}

function checkBehaviourSpec(spec: OperatorBehaviourSpec): OperatorBehaviourSpec {
  if (!OPERATOR_BEHAVIOUR_KINDS.includes(spec.kind)) {
    throw new OperatorConfigError(
      'behaviour.kind',
      `${JSON.stringify(spec.kind)} is not one of ${OPERATOR_BEHAVIOUR_KINDS.join(', ')}`,
    );
  }
  if (spec.kind === 'slow') {
    if (
      !Number.isSafeInteger(spec.delayMs) ||
      spec.delayMs < 0 ||
      spec.delayMs > MAX_SLOW_DELAY_MS
    ) {
      throw new OperatorConfigError(
        'behaviour.delayMs',
        `must be an integer in [0, ${MAX_SLOW_DELAY_MS}], got ${spec.delayMs}`,
      );
    }
  }
  if (spec.kind === 'flood') {
    if (!Number.isSafeInteger(spec.count) || spec.count < 1 || spec.count > MAX_FLOOD_COUNT) {
      throw new OperatorConfigError(
        'behaviour.count',
        `must be an integer in [1, ${MAX_FLOOD_COUNT}], got ${spec.count}`,
      );
    }
  }
  return spec;
}

function plan(
  spec: OperatorBehaviourSpec,
  honest: TaskResponseMessage,
  context: BehaviourContext,
): PlannedResponse[] {
  const now = (response: TaskResponseMessage): PlannedResponse => ({ delayMs: 0, response });
  switch (spec.kind) {
    case 'honest':
      return [now(honest)];
    case 'silent':
      return [];
    case 'slow':
      return [{ delayMs: spec.delayMs, response: honest }];
    case 'wrongValue': {
      if (context.signWithEpochKey === undefined) return [now(honest)];
      const wrongTaskId = taskIdOfMessage({
        ...context.task,
        value: otherValue(context.task.value),
      });
      return [now(signed(honest, context.signWithEpochKey(wrongTaskId)))];
    }
    case 'badSignature': {
      const strayKey = randomPrivateKey(context.rng);
      return [now(signed(honest, context.secp256k1.sign(context.task.taskId, strayKey)))];
    }
    case 'equivocate':
      return [now(honest), now(contradiction(honest, context))];
    case 'flood':
      return [
        now(honest),
        ...Array.from({ length: spec.count }, () => now(bogusResponse(honest, context.rng))),
      ];
  }
}

function signed(base: TaskResponseMessage, signature: Hex): TaskResponseMessage {
  return {
    kind: 'signed',
    taskId: base.taskId,
    operator: base.operator,
    epoch: base.epoch,
    round: base.round,
    signature,
  };
}

function contradiction(
  honest: TaskResponseMessage,
  context: BehaviourContext,
): TaskResponseMessage {
  if (honest.kind === 'signed') {
    return {
      kind: 'refused',
      taskId: honest.taskId,
      operator: honest.operator,
      epoch: honest.epoch,
      round: honest.round,
      reason: 'valueMismatch',
      detail: 'the chain has another value',
      observedValue: otherValue(context.task.value),
    };
  }
  if (context.signWithEpochKey !== undefined) {
    return signed(honest, context.signWithEpochKey(context.task.taskId));
  }
  return {
    ...honest,
    reason: honest.reason === 'chainUnavailable' ? 'noHistory' : 'chainUnavailable',
    detail: 'changed my mind',
    observedValue: null,
  };
}

function bogusResponse(honest: TaskResponseMessage, rng: Rng): TaskResponseMessage {
  const signature = new Uint8Array(65);
  signature.set(rng.bytes(64), 0);
  signature[64] = 27;
  return signed({ ...honest, taskId: bytesToHex(rng.bytes(32)) }, bytesToHex(signature));
}

/** A value that differs from `value` and still fits uint256. */
function otherValue(value: bigint): bigint {
  return value === (1n << 256n) - 1n ? 0n : value + 1n;
}

/** A private key drawn from the node's Rng (reproducible in the simulator). */
function randomPrivateKey(rng: Rng): Hex {
  for (;;) {
    const candidate = bytesToHex(rng.bytes(32));
    const scalar = BigInt(candidate);
    if (scalar > 0n && scalar < SECP256K1_N) return candidate;
  }
}
