import type { Address, Hex } from 'viem';
import type { TaskStatus } from '../core/task-status.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';

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
  proof?: {
    /** Strictly ascending by address as numbers. */
    operators: Address[];
    signatures: Hex[];
    /** `abi.encode(address[] operators, bytes[] signatures, uint32 epoch)`, for isValidSignature. */
    signatureData: Hex;
    signedWeightWei: bigint;
  };
}

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
