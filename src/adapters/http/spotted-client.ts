import type { Address, Hex } from 'viem';
import { computeTaskId } from '../../core/task-id.ts';
import type { MainChain } from '../../ports/chain.ts';

/** A proof as `GET /v1/proofs/:taskId` returns it (JSON: uint256 values as decimal strings). */
export interface ProofJson {
  taskId: Hex;
  status: 'pending' | 'completed' | 'failed' | 'expired';
  chainId: number;
  targetAddress: Address;
  key: string;
  value: string;
  blockNumber: string;
  timestampSec: string;
  epoch: number;
  retries: number;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number;
  /** Where the result goes besides the API (callback URLs, consumer contracts) and how far it got. */
  deliveries: DeliveryJson[];
  proof?: { operators: Address[]; signatures: Hex[]; signatureData: Hex; signedWeightWei: string };
}

export interface DeliveryJson {
  kind: 'webhook' | 'chain';
  target: string | number;
  status: 'waiting' | 'sending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  failureReason: string | null;
  transactionHash: Hex | null;
}

/** What `POST /v1/proofs` answers: 202 for a new task, 200 for the same request again. */
export interface ProofAccepted {
  taskId: Hex;
  status: ProofJson['status'];
  created: boolean;
}

export class SpottedApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  /** The `Retry-After` seconds of a refusal that passes by itself (503 NOT_READY, OVERLOADED). */
  readonly retryAfterSec: number | undefined;
  constructor(
    status: number,
    body: { error?: { code?: string; message?: string; field?: string } },
    retryAfterSec?: number,
  ) {
    super(body.error?.message ?? `HTTP ${status}`);
    this.name = 'SpottedApiError';
    this.status = status;
    this.code = body.error?.code ?? 'HTTP_ERROR';
    this.field = body.error?.field;
    this.retryAfterSec = retryAfterSec;
  }
}

/** `Retry-After` in seconds (the delta-seconds form the registry sends), if any. */
function retryAfterOf(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

export interface ProofRequest {
  chainId: number;
  targetAddress: Address;
  key: bigint;
  blockNumber?: bigint;
  timestampSec?: bigint;
  /** POST the result here once the task ends (at least once, with an `idempotency-key` header). */
  callbackUrl?: string;
  /** Submit the proof to the registry's consumer contract on this chain (exactly once). */
  submitToChainId?: number;
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json()) as T & { error?: { code?: string; message?: string } };
  if (!response.ok) throw new SpottedApiError(response.status, body, retryAfterOf(response));
  return body;
}

/** Sends a proof request; resolves once the registry stored it (the task id to poll). */
export function submitProofRequest(
  baseUrl: string,
  request: ProofRequest,
  options: { signal?: AbortSignal } = {},
): Promise<ProofAccepted> {
  const body = {
    chainId: request.chainId,
    targetAddress: request.targetAddress,
    key: request.key.toString(),
    ...(request.blockNumber === undefined ? {} : { blockNumber: request.blockNumber.toString() }),
    ...(request.timestampSec === undefined ? {} : { timestamp: request.timestampSec.toString() }),
    ...(request.callbackUrl === undefined ? {} : { callbackUrl: request.callbackUrl }),
    ...(request.submitToChainId === undefined ? {} : { submitToChainId: request.submitToChainId }),
  };
  return call<ProofAccepted>(`${baseUrl}/v1/proofs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Asks a registry for a proof and waits (polling) until it ends. Resolves with the final proof
 * view whatever the outcome; check `status`.
 */
export async function requestProof(
  baseUrl: string,
  request: ProofRequest,
  options: { pollIntervalMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ProofJson> {
  const accepted = await submitProofRequest(
    baseUrl,
    request,
    options.signal ? { signal: options.signal } : {},
  );
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const proof = await getProof(baseUrl, accepted.taskId, options.signal);
    if (proof.status !== 'pending') return proof;
    if (Date.now() > deadline) return proof;
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 100));
  }
}

export function getProof(baseUrl: string, taskId: Hex, signal?: AbortSignal): Promise<ProofJson> {
  return call<ProofJson>(`${baseUrl}/v1/proofs/${taskId}`, signal ? { signal } : undefined);
}

/**
 * Checks a completed proof on-chain: recomputes the task id from the proven fields (so the
 * signatures are over exactly what the proof claims) and calls the registry's EIP-1271
 * `isValidSignature`. Resolves on success; rejects with the contract's named reason otherwise.
 */
export async function verifyProof(proof: ProofJson, mainChain: MainChain): Promise<void> {
  if (proof.status !== 'completed' || !proof.proof) {
    throw new Error(`task ${proof.taskId} is ${proof.status}: there is no proof to verify`);
  }
  const recomputed = computeTaskId({
    user: proof.targetAddress,
    chainId: proof.chainId,
    blockNumber: BigInt(proof.blockNumber),
    timestampSec: BigInt(proof.timestampSec),
    epoch: proof.epoch,
    key: BigInt(proof.key),
    value: BigInt(proof.value),
  });
  if (recomputed !== proof.taskId) {
    throw new Error(`the proof's fields hash to ${recomputed}, not to its task id ${proof.taskId}`);
  }
  await mainChain.verifySignatureSet({
    digest: proof.taskId,
    signatureData: proof.proof.signatureData,
  });
}
