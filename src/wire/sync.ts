import type { Hex } from 'viem';
import type { OperatorRecord } from '../core/operator-record.ts';
import { OPERATOR_STATUSES } from '../core/operator-status.ts';
import {
  type OperatorRecord as OperatorRecordProto,
  SyncRequest,
  SyncResponse,
} from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { type EpochStateMessage, epochStateFromProtobuf, epochStateToProtobuf } from './epoch.ts';
import { HASH_BYTES, wireFields } from './fields.ts';
import { MAX_OPERATORS_PER_MESSAGE } from './limits.ts';

export const MAX_SYNC_REQUEST_BYTES = 256;
/** An epoch state (≤ 128 KiB) plus ~110 bytes per operator record at 1024 operators. */
export const MAX_SYNC_RESPONSE_BYTES = 512 * 1024;

/** `/spotted/sync/1` request: catch up from an epoch, or confirm a known state by its hash. */
export interface SyncRequestMessage {
  readonly fromEpoch: number;
  readonly stateHash: Hex | null;
}

/**
 * An operator's registry record as registries exchange it. `statusBeforeSuspension` stays local:
 * it matters only to the registry that suspended the operator.
 */
export type OperatorRecordMessage = Omit<OperatorRecord, 'statusBeforeSuspension'>;

/** `/spotted/sync/1` response. */
export interface SyncResponseMessage {
  readonly latestEpoch: EpochStateMessage | null;
  readonly stateHash: Hex | null;
  readonly operators: readonly OperatorRecordMessage[];
}

const requestFields = wireFields('SyncRequest');
const responseFields = wireFields('SyncResponse');

export function decodeSyncRequest(bytes: Uint8Array): SyncRequestMessage {
  const raw = decodeProtobuf('SyncRequest', SyncRequest, bytes, MAX_SYNC_REQUEST_BYTES);
  return {
    fromEpoch: raw.fromEpoch,
    stateHash: requestFields.optionalHash('state_hash', raw.stateHash),
  };
}

export function encodeSyncRequest(request: SyncRequestMessage): Uint8Array {
  return encodeProtobuf(
    'SyncRequest',
    SyncRequest,
    {
      fromEpoch: requestFields.uint32('from_epoch', request.fromEpoch),
      stateHash: requestFields.optionalHexBytes('state_hash', request.stateHash, HASH_BYTES),
    },
    MAX_SYNC_REQUEST_BYTES,
  );
}

export function decodeSyncResponse(bytes: Uint8Array): SyncResponseMessage {
  const raw = decodeProtobuf('SyncResponse', SyncResponse, bytes, MAX_SYNC_RESPONSE_BYTES);
  const operators = responseFields
    .list('operators', raw.operators, { maxItems: MAX_OPERATORS_PER_MESSAGE })
    .map((record, index) => operatorRecordFromProtobuf(record, `operators[${index}].`));
  responseFields.distinctAddresses(
    'operators',
    operators.map((record) => record.address),
  );
  return {
    latestEpoch:
      raw.latestEpoch === undefined
        ? null
        : epochStateFromProtobuf(raw.latestEpoch, {
            fields: responseFields,
            path: 'latest_epoch.',
          }),
    stateHash: responseFields.optionalHash('state_hash', raw.stateHash),
    operators,
  };
}

export function encodeSyncResponse(response: SyncResponseMessage): Uint8Array {
  responseFields.list('operators', response.operators, { maxItems: MAX_OPERATORS_PER_MESSAGE });
  const operators = response.operators.map((record, index) =>
    operatorRecordToProtobuf(record, `operators[${index}].`),
  );
  responseFields.distinctAddresses(
    'operators',
    response.operators.map((record) => record.address),
  );
  return encodeProtobuf(
    'SyncResponse',
    SyncResponse,
    {
      latestEpoch:
        response.latestEpoch === null
          ? undefined
          : epochStateToProtobuf(response.latestEpoch, {
              fields: responseFields,
              path: 'latest_epoch.',
            }),
      stateHash: responseFields.optionalHexBytes('state_hash', response.stateHash, HASH_BYTES),
      operators,
    },
    MAX_SYNC_RESPONSE_BYTES,
  );
}

function operatorRecordFromProtobuf(raw: OperatorRecordProto, path: string): OperatorRecordMessage {
  if (!raw.hasExitEpoch && raw.exitEpoch !== 0) {
    responseFields.fail(
      'INCONSISTENT_FIELDS',
      `${path}exit_epoch`,
      'set while has_exit_epoch is false',
    );
  }
  return {
    address: responseFields.address(`${path}operator_address`, raw.operatorAddress),
    signingKey: responseFields.address(`${path}signing_key`, raw.signingKey),
    weightWei: responseFields.uint256(`${path}weight`, raw.weight),
    status: responseFields.oneOf(`${path}status`, raw.status, OPERATOR_STATUSES),
    activeEpoch: raw.activeEpoch,
    exitEpoch: raw.hasExitEpoch ? raw.exitEpoch : null,
    missing: raw.missing,
    successfulResponseCount: responseFields.safeInteger(
      `${path}successful_response_count`,
      raw.successfulResponseCount,
    ),
  };
}

function operatorRecordToProtobuf(
  record: OperatorRecordMessage,
  path: string,
): OperatorRecordProto {
  return {
    operatorAddress: responseFields.addressBytes(`${path}operator_address`, record.address),
    signingKey: responseFields.addressBytes(`${path}signing_key`, record.signingKey),
    weight: responseFields.uint256Bytes(`${path}weight`, record.weightWei),
    status: responseFields.oneOf(`${path}status`, record.status, OPERATOR_STATUSES),
    activeEpoch: responseFields.uint32(`${path}active_epoch`, record.activeEpoch),
    exitEpoch:
      record.exitEpoch === null ? 0 : responseFields.uint32(`${path}exit_epoch`, record.exitEpoch),
    hasExitEpoch: record.exitEpoch !== null,
    missing: responseFields.uint32(`${path}missing`, record.missing),
    successfulResponseCount: responseFields.uint64(
      `${path}successful_response_count`,
      record.successfulResponseCount,
    ),
  };
}
