import { type Hex, isHex, keccak256, stringToHex } from 'viem';
import type { EnqueueJobInput } from '../store/registry/queue-jobs.ts';
import type { JsonValue } from '../store/validate.ts';
import { JobPayloadError } from './errors.ts';

/** The aggregator's queues: task collection, and the two kinds of delivery. */
export const QUEUES = {
  /** One job per accepted task: collect signatures until the task ends. */
  collect: 'task.collect',
  /** POST the result to a client's callback URL. */
  webhook: 'delivery.webhook',
  /** Submit the proof to a SpottedConsumer contract on a destination chain. */
  chain: 'delivery.chain',
} as const;

export const DELIVERY_QUEUES: readonly string[] = [QUEUES.webhook, QUEUES.chain];

/** Callback URLs: http(s), at most this long. */
export const MAX_CALLBACK_URL_LENGTH = 2_048;

export interface CollectJobPayload {
  taskId: Hex;
  /** Whether the request named a time (the task message's `byTimestamp`). */
  byTimestamp: boolean;
  /** The history entry the aggregator read (the task message carries it). */
  historyBlockNumber: bigint;
  historyTimestampSec: bigint;
}

export interface WebhookJobPayload {
  taskId: Hex;
  url: string;
}

export interface ChainJobPayload {
  taskId: Hex;
  chainId: number;
}

/** What a chain delivery records before sending, so the next attempt checks instead of resending. */
export interface ChainJobProgress {
  txHash: Hex;
  raw: Hex;
  nonce: number;
}

export function collectJob(
  payload: CollectJobPayload,
  options: { maxAttempts: number },
): EnqueueJobInput {
  return {
    queue: QUEUES.collect,
    idempotencyKey: payload.taskId,
    groupKey: payload.taskId,
    payload: {
      taskId: payload.taskId,
      byTimestamp: payload.byTimestamp,
      historyBlockNumber: payload.historyBlockNumber.toString(),
      historyTimestampSec: payload.historyTimestampSec.toString(),
    },
    maxAttempts: options.maxAttempts,
    // A failed collection step is retried soon: the task's deadline is seconds away.
    backoff: { initialMs: 200, maxMs: 2_000 },
  };
}

/** One webhook job per task and URL (the key hashes the URL, which may be long). */
export function webhookJob(
  payload: WebhookJobPayload,
  options: {
    maxAttempts: number;
    backoff: { initialMs: number; maxMs: number };
    visibleAtMs: number;
  },
): EnqueueJobInput {
  return {
    queue: QUEUES.webhook,
    idempotencyKey: `${payload.taskId}:${keccak256(stringToHex(payload.url))}`,
    groupKey: payload.taskId,
    payload: { taskId: payload.taskId, url: payload.url },
    ...options,
  };
}

/** One chain job per task and destination chain. */
export function chainJob(
  payload: ChainJobPayload,
  options: {
    maxAttempts: number;
    backoff: { initialMs: number; maxMs: number };
    visibleAtMs: number;
  },
): EnqueueJobInput {
  return {
    queue: QUEUES.chain,
    idempotencyKey: `${payload.taskId}:${payload.chainId}`,
    groupKey: payload.taskId,
    payload: { taskId: payload.taskId, chainId: payload.chainId },
    ...options,
  };
}

function field(value: JsonValue, name: string, queue: string): JsonValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JobPayloadError(queue, 'expected an object');
  }
  const found = value[name];
  if (found === undefined) throw new JobPayloadError(queue, `${name}: missing`);
  return found;
}

function taskIdOf(value: JsonValue, queue: string): Hex {
  const taskId = field(value, 'taskId', queue);
  if (typeof taskId !== 'string' || !isHex(taskId) || taskId.length !== 66) {
    throw new JobPayloadError(queue, 'taskId: expected 32 bytes of 0x hex');
  }
  return taskId;
}

function decimal(value: JsonValue, name: string, queue: string): bigint {
  const text = field(value, name, queue);
  if (typeof text !== 'string' || !/^\d{1,78}$/.test(text)) {
    throw new JobPayloadError(queue, `${name}: expected a decimal string`);
  }
  return BigInt(text);
}

export function parseCollectPayload(value: JsonValue): CollectJobPayload {
  const queue = QUEUES.collect;
  const byTimestamp = field(value, 'byTimestamp', queue);
  if (typeof byTimestamp !== 'boolean') {
    throw new JobPayloadError(queue, 'byTimestamp: expected a boolean');
  }
  return {
    taskId: taskIdOf(value, queue),
    byTimestamp,
    historyBlockNumber: decimal(value, 'historyBlockNumber', queue),
    historyTimestampSec: decimal(value, 'historyTimestampSec', queue),
  };
}

export function parseWebhookPayload(value: JsonValue): WebhookJobPayload {
  const queue = QUEUES.webhook;
  const url = field(value, 'url', queue);
  if (typeof url !== 'string' || !isCallbackUrl(url)) {
    throw new JobPayloadError(queue, 'url: expected an http(s) URL');
  }
  return { taskId: taskIdOf(value, queue), url };
}

export function parseChainPayload(value: JsonValue): ChainJobPayload {
  const queue = QUEUES.chain;
  const chainId = field(value, 'chainId', queue);
  if (typeof chainId !== 'number' || !Number.isInteger(chainId) || chainId < 1) {
    throw new JobPayloadError(queue, 'chainId: expected a positive integer');
  }
  return { taskId: taskIdOf(value, queue), chainId };
}

/** Progress of an earlier attempt, or undefined when there is none (or it is unreadable). */
export function parseChainProgress(value: JsonValue | null): ChainJobProgress | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { txHash, raw, nonce } = value;
  if (typeof txHash !== 'string' || !isHex(txHash) || txHash.length !== 66) return undefined;
  if (typeof raw !== 'string' || !isHex(raw)) return undefined;
  if (typeof nonce !== 'number') return undefined;
  return { txHash, raw, nonce };
}

/** http: or https:, parseable, no credentials, at most MAX_CALLBACK_URL_LENGTH characters. */
export function isCallbackUrl(text: string): boolean {
  if (text.length > MAX_CALLBACK_URL_LENGTH) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.hostname !== ''
  );
}
