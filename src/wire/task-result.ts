import type { Address, Hex } from 'viem';
import { decodeSignatureData } from '../core/signature-set.ts';
import { TaskResult } from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { HASH_BYTES, SIGNATURE_BYTES, wireFields } from './fields.ts';
import { MAX_DETAIL_CHARS, MAX_OPERATORS_PER_MESSAGE } from './limits.ts';

/**
 * A proof with every operator signing: addresses (~22 B each), signatures (~67 B each) and the
 * ABI-encoded signature data (~192 B per operator) come to ~290 KiB at 1024 operators.
 */
export const MAX_TASK_RESULT_BYTES = 512 * 1024;

interface TaskResultCommon {
  readonly taskId: Hex;
  readonly chainId: number;
  readonly targetAddress: Address;
  readonly key: bigint;
  readonly value: bigint;
  readonly blockNumber: bigint;
  readonly timestampSec: bigint;
  readonly epoch: number;
}

/**
 * `/spotted/result/1`: how a task ended. A completed task carries the proof exactly as
 * `isValidSignature` takes it; a failed or expired one carries no proof.
 */
export type TaskResultMessage = TaskResultCommon &
  (
    | {
        readonly status: 'completed';
        /** Strictly ascending by address, as the registry checks them. */
        readonly operators: readonly Address[];
        /** 65 bytes each, in the order of `operators`. */
        readonly signatures: readonly Hex[];
        /** `abi.encode(operators, signatures, uint32 epoch)`, consistent with the fields above. */
        readonly signatureData: Hex;
      }
    | {
        readonly status: 'failed' | 'expired';
        readonly failureReason: string;
      }
  );

const FINAL_STATUSES = ['completed', 'failed', 'expired'] as const;

const fields = wireFields('TaskResult');

export function decodeTaskResult(bytes: Uint8Array): TaskResultMessage {
  const raw = decodeProtobuf('TaskResult', TaskResult, bytes, MAX_TASK_RESULT_BYTES);
  const common: TaskResultCommon = {
    taskId: fields.fixedBytes('task_id', raw.taskId, HASH_BYTES),
    chainId: fields.positive('chain_id', raw.chainId),
    targetAddress: fields.address('target_address', raw.targetAddress),
    key: fields.uint256('key', raw.key),
    value: fields.uint256('value', raw.value),
    blockNumber: raw.blockNumber,
    timestampSec: fields.uint48('timestamp', raw.timestamp),
    epoch: raw.epoch,
  };
  const status = fields.oneOf('status', raw.status, FINAL_STATUSES);
  if (status !== 'completed') {
    if (raw.operators.length > 0 || raw.signatures.length > 0 || raw.signatureData.length > 0) {
      fields.fail('INCONSISTENT_FIELDS', null, `a ${status} task carries a proof`);
    }
    return {
      ...common,
      status,
      failureReason: fields.text('failure_reason', raw.failureReason, {
        maxChars: MAX_DETAIL_CHARS,
      }),
    };
  }
  if (raw.failureReason.length > 0) {
    fields.fail('INCONSISTENT_FIELDS', 'failure_reason', 'set on a completed task');
  }
  const listRule = { maxItems: MAX_OPERATORS_PER_MESSAGE, required: true };
  const operators = fields
    .list('operators', raw.operators, listRule)
    .map((operator, index) => fields.address(`operators[${index}]`, operator));
  fields.ascendingAddresses('operators', operators);
  const signatures = fields
    .list('signatures', raw.signatures, listRule)
    .map((signature, index) => fields.signature(`signatures[${index}]`, signature));
  const proof = {
    operators,
    signatures,
    signatureData: fields.fixedBytes('signature_data', raw.signatureData, raw.signatureData.length),
  };
  assertProofConsistent(proof, common.epoch);
  return { ...common, status, ...proof };
}

export function encodeTaskResult(result: TaskResultMessage): Uint8Array {
  const proof =
    result.status === 'completed'
      ? encodeProof(result, result.epoch)
      : { operators: [], signatures: [], signatureData: new Uint8Array(0) };
  return encodeProtobuf(
    'TaskResult',
    TaskResult,
    {
      taskId: fields.hexBytes('task_id', result.taskId, HASH_BYTES),
      status: fields.oneOf('status', result.status, FINAL_STATUSES),
      chainId: fields.positive('chain_id', fields.uint32('chain_id', result.chainId)),
      targetAddress: fields.addressBytes('target_address', result.targetAddress),
      key: fields.uint256Bytes('key', result.key),
      value: fields.uint256Bytes('value', result.value),
      blockNumber: fields.uint64('block_number', result.blockNumber),
      timestamp: fields.uint48('timestamp', fields.uint64('timestamp', result.timestampSec)),
      epoch: fields.uint32('epoch', result.epoch),
      ...proof,
      failureReason:
        result.status === 'completed'
          ? ''
          : fields.text('failure_reason', result.failureReason, { maxChars: MAX_DETAIL_CHARS }),
    },
    MAX_TASK_RESULT_BYTES,
  );
}

interface Proof {
  readonly operators: readonly Address[];
  readonly signatures: readonly Hex[];
  readonly signatureData: Hex;
}

function encodeProof(
  proof: Proof,
  epoch: number,
): { operators: Uint8Array[]; signatures: Uint8Array[]; signatureData: Uint8Array } {
  const listRule = { maxItems: MAX_OPERATORS_PER_MESSAGE, required: true };
  fields.list('operators', proof.operators, listRule);
  fields.list('signatures', proof.signatures, listRule);
  const operators = proof.operators.map((operator, index) =>
    fields.addressBytes(`operators[${index}]`, operator),
  );
  fields.ascendingAddresses('operators', proof.operators);
  const signatures = proof.signatures.map((signature, index) =>
    fields.hexBytes(`signatures[${index}]`, signature, SIGNATURE_BYTES),
  );
  const signatureData = fields.anyHexBytes('signature_data', proof.signatureData);
  assertProofConsistent(proof, epoch);
  return { operators, signatures, signatureData };
}

/** The signature data must say what the fields say, or the proof verifies something else. */
function assertProofConsistent(proof: Proof, epoch: number): void {
  if (proof.operators.length !== proof.signatures.length) {
    fields.fail(
      'INCONSISTENT_FIELDS',
      'signatures',
      `${proof.signatures.length} signatures for ${proof.operators.length} operators`,
    );
  }
  const decoded = parseSignatureData(proof.signatureData);
  const sameOperators =
    decoded.operators.length === proof.operators.length &&
    decoded.operators.every(
      (operator, index) => BigInt(operator) === BigInt(proof.operators[index] as Address),
    );
  const sameSignatures =
    decoded.signatures.length === proof.signatures.length &&
    decoded.signatures.every(
      (signature, index) => signature.toLowerCase() === proof.signatures[index]?.toLowerCase(),
    );
  if (!sameOperators || !sameSignatures || decoded.referenceEpoch !== epoch) {
    fields.fail(
      'INCONSISTENT_FIELDS',
      'signature_data',
      'does not encode the listed operators, signatures and epoch',
    );
  }
}

function parseSignatureData(signatureData: Hex): ReturnType<typeof decodeSignatureData> {
  try {
    return decodeSignatureData(signatureData);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    return fields.fail(
      'INCONSISTENT_FIELDS',
      'signature_data',
      `not abi.encode(address[], bytes[], uint32): ${reason}`,
    );
  }
}
