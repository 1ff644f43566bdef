import type { Address, Hex } from 'viem';
import type { OperatorRecord } from '../core/operator-record.ts';
import { OPERATOR_STATUSES } from '../core/operator-status.ts';
import {
  type OperatorFact as OperatorFactProto,
  type OperatorRecord as OperatorRecordProto,
  SyncRequest,
  SyncResponse,
} from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { type EpochStateMessage, epochStateFromProtobuf, epochStateToProtobuf } from './epoch.ts';
import { HASH_BYTES, wireFields } from './fields.ts';
import { type JoinRequestMessage, joinRequestFromProtobuf, joinRequestToProtobuf } from './join.ts';
import { MAX_OPERATORS_PER_MESSAGE } from './limits.ts';

export const MAX_SYNC_REQUEST_BYTES = 256;
/** An epoch state (≤ 128 KiB) plus ~110 bytes per operator record at 1024 operators. */
export const MAX_SYNC_RESPONSE_BYTES = 512 * 1024;

/** `/spotted/sync/1` request: catch up from an epoch, or confirm a known state by its hash. */
export interface SyncRequestMessage {
  readonly fromEpoch: number;
  readonly stateHash: Hex | null;
  /** Another registry pulling operator facts stored after `factsAfter` (anti-entropy). */
  readonly wantFacts?: boolean;
  readonly factsAfter?: number;
  /** Another registry pulling the signed joins recorded after `joinsAfter` (join replication). */
  readonly wantJoins?: boolean;
  readonly joinsAfter?: number;
}

/** Signed joins in one sync answer: 64 of at most 4 KiB each stay far below the message cap. */
export const MAX_JOINS_PER_MESSAGE = 64;

/** Operator facts in one sync answer: bounded so a page stays far below the message cap. */
export const MAX_FACTS_PER_MESSAGE = 512;

export const OPERATOR_FACT_KINDS = ['missed', 'succeeded', 'unsuspended'] as const;

/** A replicated off-chain fact (src/store/registry/operator-facts.ts), as registries send it. */
export type OperatorFactMessage =
  | { readonly kind: 'missed' | 'succeeded'; readonly operator: Address; readonly taskId: Hex }
  | { readonly kind: 'unsuspended'; readonly operator: Address; readonly missesCleared: number };

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
  /** Answer to `wantFacts`: a page of facts, the sequence to ask after next, more to come. */
  readonly facts?: readonly OperatorFactMessage[];
  readonly factsNext?: number;
  readonly factsMore?: boolean;
  /** Answer to `wantJoins`: a page of signed joins, the sequence to ask after next, more to come. */
  readonly joins?: readonly JoinRequestMessage[];
  readonly joinsNext?: number;
  readonly joinsMore?: boolean;
}

const requestFields = wireFields('SyncRequest');
const responseFields = wireFields('SyncResponse');

export function decodeSyncRequest(bytes: Uint8Array): SyncRequestMessage {
  const raw = decodeProtobuf('SyncRequest', SyncRequest, bytes, MAX_SYNC_REQUEST_BYTES);
  return {
    fromEpoch: raw.fromEpoch,
    stateHash: requestFields.optionalHash('state_hash', raw.stateHash),
    // The fact-pull fields are present only when asked for (an epoch request omits them).
    ...(raw.wantFacts
      ? { wantFacts: true, factsAfter: requestFields.safeInteger('facts_after', raw.factsAfter) }
      : {}),
    ...(raw.wantJoins
      ? { wantJoins: true, joinsAfter: requestFields.safeInteger('joins_after', raw.joinsAfter) }
      : {}),
  };
}

export function encodeSyncRequest(request: SyncRequestMessage): Uint8Array {
  return encodeProtobuf(
    'SyncRequest',
    SyncRequest,
    {
      fromEpoch: requestFields.uint32('from_epoch', request.fromEpoch),
      stateHash: requestFields.optionalHexBytes('state_hash', request.stateHash, HASH_BYTES),
      wantFacts: request.wantFacts ?? false,
      factsAfter: requestFields.uint64('facts_after', request.factsAfter ?? 0),
      wantJoins: request.wantJoins ?? false,
      joinsAfter: requestFields.uint64('joins_after', request.joinsAfter ?? 0),
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
    // Present only in an answer to a fact pull (factsNext > 0 once any fact was sent).
    ...(raw.facts.length > 0 || raw.factsNext > 0n || raw.factsMore
      ? {
          facts: responseFields
            .list('facts', raw.facts, { maxItems: MAX_FACTS_PER_MESSAGE })
            .map((fact, index) => operatorFactFromProtobuf(fact, `facts[${index}].`)),
          factsNext: responseFields.safeInteger('facts_next', raw.factsNext),
          factsMore: raw.factsMore,
        }
      : {}),
    // Present only in an answer to a join pull.
    ...(raw.joins.length > 0 || raw.joinsNext > 0n || raw.joinsMore
      ? {
          joins: responseFields
            .list('joins', raw.joins, { maxItems: MAX_JOINS_PER_MESSAGE })
            .map((join) => joinRequestFromProtobuf(join)),
          joinsNext: responseFields.safeInteger('joins_next', raw.joinsNext),
          joinsMore: raw.joinsMore,
        }
      : {}),
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
      facts: responseFields
        .list('facts', response.facts ?? [], { maxItems: MAX_FACTS_PER_MESSAGE })
        .map((fact, index) => operatorFactToProtobuf(fact, `facts[${index}].`)),
      factsNext: responseFields.uint64('facts_next', response.factsNext ?? 0),
      factsMore: response.factsMore ?? false,
      joins: responseFields
        .list('joins', response.joins ?? [], { maxItems: MAX_JOINS_PER_MESSAGE })
        .map((join) => joinRequestToProtobuf(join)),
      joinsNext: responseFields.uint64('joins_next', response.joinsNext ?? 0),
      joinsMore: response.joinsMore ?? false,
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

function operatorFactFromProtobuf(raw: OperatorFactProto, path: string): OperatorFactMessage {
  const kind = responseFields.oneOf(`${path}kind`, raw.kind, OPERATOR_FACT_KINDS);
  const operator = responseFields.address(`${path}operator_address`, raw.operatorAddress);
  if (kind === 'unsuspended') {
    if (raw.taskId.length > 0) {
      responseFields.fail('INCONSISTENT_FIELDS', `${path}task_id`, 'set on an unsuspended fact');
    }
    return { kind, operator, missesCleared: raw.missesCleared };
  }
  if (raw.missesCleared !== 0) {
    responseFields.fail('INCONSISTENT_FIELDS', `${path}misses_cleared`, `set on a ${kind} fact`);
  }
  return {
    kind,
    operator,
    taskId: responseFields.fixedBytes(`${path}task_id`, raw.taskId, HASH_BYTES),
  };
}

function operatorFactToProtobuf(fact: OperatorFactMessage, path: string): OperatorFactProto {
  const kind = responseFields.oneOf(`${path}kind`, fact.kind, OPERATOR_FACT_KINDS);
  const operatorAddress = responseFields.addressBytes(`${path}operator_address`, fact.operator);
  if (fact.kind === 'unsuspended') {
    return {
      kind,
      operatorAddress,
      taskId: new Uint8Array(0),
      missesCleared: responseFields.uint32(`${path}misses_cleared`, fact.missesCleared),
    };
  }
  return {
    kind,
    operatorAddress,
    taskId: responseFields.hexBytes(`${path}task_id`, fact.taskId, HASH_BYTES),
    missesCleared: 0,
  };
}
