import type { Address, Hex } from 'viem';
import type { TaskStatus } from '../core/task-status.ts';
import type { QueueJob } from '../store/registry/queue-jobs.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { parseChainProgress, QUEUES } from './jobs.ts';

/** What `GET /v1/proofs/:taskId` shows: the task, and once completed the proof. */
export interface ProofView {
  taskId: Hex;
  status: TaskStatus;
  chainId: number;
  targetAddress: Address;
  key: bigint;
  value: bigint;
  /** The query point: one of these is 0 (see src/protocol/task-fields.ts). */
  blockNumber: bigint;
  timestampSec: bigint;
  epoch: number;
  retries: number;
  createdAtMs: number;
  updatedAtMs: number;
  /** Pending past this time, the task ends expired. */
  expiresAtMs: number;
  /** Where the result goes besides this API: callback URLs and consumer contracts. */
  deliveries: DeliveryView[];
  proof?: {
    /** Strictly ascending by address as numbers. */
    operators: Address[];
    signatures: Hex[];
    /** `abi.encode(address[] operators, bytes[] signatures, uint32 epoch)`, for isValidSignature. */
    signatureData: Hex;
    signedWeightWei: bigint;
  };
}

/** One delivery of the task's result, from its queue job. */
export interface DeliveryView {
  kind: 'webhook' | 'chain';
  /** The callback URL, or the destination chain id. */
  target: string | number;
  /** waiting (until the task ends or the next try), sending, delivered, or failed for good. */
  status: 'waiting' | 'sending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  /** Why it was given up (dead-lettered). */
  failureReason: string | null;
  /** The submission's transaction, once one was sent (chain deliveries). */
  transactionHash: Hex | null;
}

const DELIVERY_STATUS = {
  ready: 'waiting',
  running: 'sending',
  done: 'delivered',
  failed: 'failed',
} as const;

function toDeliveryView(job: QueueJob): DeliveryView | undefined {
  const payload = job.payload as Record<string, unknown>;
  const kind =
    job.queue === QUEUES.webhook ? 'webhook' : job.queue === QUEUES.chain ? 'chain' : undefined;
  if (kind === undefined) return undefined;
  const target = kind === 'webhook' ? payload['url'] : payload['chainId'];
  if (typeof target !== 'string' && typeof target !== 'number') return undefined;
  return {
    kind,
    target,
    status: DELIVERY_STATUS[job.status],
    attempts: job.attempts,
    lastError: job.lastError,
    failureReason: job.deadLetterReason,
    transactionHash: kind === 'chain' ? (parseChainProgress(job.progress)?.txHash ?? null) : null,
  };
}

/** At most this many deliveries are listed per task. */
const MAX_DELIVERIES_SHOWN = 32;

export async function readProofView(
  store: RegistryStore,
  taskId: Hex,
): Promise<ProofView | undefined> {
  const task = await store.tasks.get(taskId);
  if (!task) return undefined;
  const view: ProofView = {
    taskId: task.taskId,
    status: task.status,
    chainId: task.chainId,
    targetAddress: task.targetAddress,
    key: task.key,
    value: task.value,
    blockNumber: task.blockNumber,
    timestampSec: task.timestampSec,
    epoch: task.epoch,
    retries: task.retries,
    createdAtMs: task.createdAtMs,
    updatedAtMs: task.updatedAtMs,
    expiresAtMs: task.expiresAtMs,
    deliveries: (
      await store.queue.list({ groupKey: task.taskId, limit: MAX_DELIVERIES_SHOWN + 1 })
    ).flatMap((job) => toDeliveryView(job) ?? []),
  };
  if (task.status === 'completed') {
    const response = await store.avsResponses.get(taskId);
    if (response) {
      view.proof = {
        operators: response.signers.map((s) => s.operator),
        signatures: response.signers.map((s) => s.signature),
        signatureData: response.signatureData,
        signedWeightWei: response.signedWeightWei,
      };
    }
  }
  return view;
}
