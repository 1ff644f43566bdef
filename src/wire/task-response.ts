import type { Address, Hex } from 'viem';
import {
  RefusalReason,
  TaskResponse,
  TaskResponseAck,
} from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { type EnumTable, HASH_BYTES, SIGNATURE_BYTES, wireFields } from './fields.ts';
import { MAX_DETAIL_CHARS } from './limits.ts';

/** ~100 bytes of fixed fields plus a refusal detail of at most 512 characters (≤ 2 KiB UTF-8). */
export const MAX_TASK_RESPONSE_BYTES = 4 * 1024;
export const MAX_TASK_RESPONSE_ACK_BYTES = 4 * 1024;

/** Why an operator declined to sign. */
export type RefusalReasonName =
  | 'valueMismatch'
  | 'unknownChain'
  | 'notActive'
  | 'staleEpoch'
  | 'noHistory'
  | 'chainUnavailable'
  | 'malformedTask';

const REFUSAL_REASONS: EnumTable<RefusalReasonName, RefusalReason> = {
  valueMismatch: RefusalReason.REFUSAL_REASON_VALUE_MISMATCH,
  unknownChain: RefusalReason.REFUSAL_REASON_UNKNOWN_CHAIN,
  notActive: RefusalReason.REFUSAL_REASON_NOT_ACTIVE,
  staleEpoch: RefusalReason.REFUSAL_REASON_STALE_EPOCH,
  noHistory: RefusalReason.REFUSAL_REASON_NO_HISTORY,
  chainUnavailable: RefusalReason.REFUSAL_REASON_CHAIN_UNAVAILABLE,
  malformedTask: RefusalReason.REFUSAL_REASON_MALFORMED_TASK,
};

interface TaskResponseCommon {
  readonly taskId: Hex;
  readonly operator: Address;
  readonly epoch: number;
  readonly round: number;
}

/** `/spotted/response/1` request: an operator either signs the task id or refuses, never both. */
export type TaskResponseMessage = TaskResponseCommon &
  (
    | {
        readonly kind: 'signed';
        /** 65 bytes r‖s‖v over the task id; v and low-s are checked by the signature verifier. */
        readonly signature: Hex;
      }
    | {
        readonly kind: 'refused';
        readonly reason: RefusalReasonName;
        readonly detail: string;
        /** What the operator read from the chain, when it read anything. */
        readonly observedValue: bigint | null;
      }
  );

/** `/spotted/response/1` response: whether the aggregator took the reply. */
export interface TaskResponseAckMessage {
  readonly accepted: boolean;
  readonly detail: string;
}

const responseFields = wireFields('TaskResponse');
const ackFields = wireFields('TaskResponseAck');

export function decodeTaskResponse(bytes: Uint8Array): TaskResponseMessage {
  const raw = decodeProtobuf('TaskResponse', TaskResponse, bytes, MAX_TASK_RESPONSE_BYTES);
  const common: TaskResponseCommon = {
    taskId: responseFields.fixedBytes('task_id', raw.taskId, HASH_BYTES),
    operator: responseFields.address('operator_address', raw.operatorAddress),
    epoch: raw.epoch,
    round: raw.round,
  };
  const signed = raw.signature.length > 0;
  const refused = raw.refusalReason !== RefusalReason.REFUSAL_REASON_UNSPECIFIED;
  if (signed === refused) {
    responseFields.fail(
      'INCONSISTENT_FIELDS',
      null,
      signed ? 'both signed and refused' : 'neither signed nor refused',
    );
  }
  if (signed) {
    if (raw.refusalDetail.length > 0 || raw.observedValue.length > 0) {
      responseFields.fail('INCONSISTENT_FIELDS', null, 'a signed response carries refusal fields');
    }
    return {
      ...common,
      kind: 'signed',
      signature: responseFields.signature('signature', raw.signature),
    };
  }
  return {
    ...common,
    kind: 'refused',
    reason: responseFields.enumName('refusal_reason', raw.refusalReason, REFUSAL_REASONS),
    detail: responseFields.text('refusal_detail', raw.refusalDetail, {
      maxChars: MAX_DETAIL_CHARS,
    }),
    observedValue: responseFields.optionalUint256('observed_value', raw.observedValue),
  };
}

export function encodeTaskResponse(response: TaskResponseMessage): Uint8Array {
  const common = {
    taskId: responseFields.hexBytes('task_id', response.taskId, HASH_BYTES),
    operatorAddress: responseFields.addressBytes('operator_address', response.operator),
    epoch: responseFields.uint32('epoch', response.epoch),
    round: responseFields.uint32('round', response.round),
  };
  const outcome =
    response.kind === 'signed'
      ? {
          signature: responseFields.hexBytes('signature', response.signature, SIGNATURE_BYTES),
          refusalReason: RefusalReason.REFUSAL_REASON_UNSPECIFIED,
          refusalDetail: '',
          observedValue: new Uint8Array(0),
        }
      : {
          signature: new Uint8Array(0),
          refusalReason: responseFields.enumNumber(
            'refusal_reason',
            response.reason,
            REFUSAL_REASONS,
          ),
          refusalDetail: responseFields.text('refusal_detail', response.detail, {
            maxChars: MAX_DETAIL_CHARS,
          }),
          observedValue: responseFields.optionalUint256Bytes(
            'observed_value',
            response.observedValue,
          ),
        };
  return encodeProtobuf(
    'TaskResponse',
    TaskResponse,
    { ...common, ...outcome },
    MAX_TASK_RESPONSE_BYTES,
  );
}

export function decodeTaskResponseAck(bytes: Uint8Array): TaskResponseAckMessage {
  const raw = decodeProtobuf(
    'TaskResponseAck',
    TaskResponseAck,
    bytes,
    MAX_TASK_RESPONSE_ACK_BYTES,
  );
  return {
    accepted: raw.accepted,
    detail: ackFields.text('detail', raw.detail, { maxChars: MAX_DETAIL_CHARS }),
  };
}

export function encodeTaskResponseAck(ack: TaskResponseAckMessage): Uint8Array {
  return encodeProtobuf(
    'TaskResponseAck',
    TaskResponseAck,
    {
      accepted: ack.accepted,
      detail: ackFields.text('detail', ack.detail, { maxChars: MAX_DETAIL_CHARS }),
    },
    MAX_TASK_RESPONSE_ACK_BYTES,
  );
}
