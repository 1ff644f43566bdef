import type { EpochOperator, EpochStateRow } from '../core/epoch-state.ts';
import { EpochState } from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { type WireFields, wireFields } from './fields.ts';
import { MAX_OPERATORS_PER_MESSAGE } from './limits.ts';

/** ~80 bytes per operator (two addresses, a uint256 weight, framing) at 1024 operators. */
export const MAX_EPOCH_STATE_BYTES = 128 * 1024;

/** `/spotted/epoch/1` (and inside sync answers): an epoch's weights and its active operators. */
export interface EpochStateMessage extends EpochStateRow {
  /** Each operator at most once. */
  readonly operators: readonly EpochOperator[];
  readonly publishedAtMs: number;
}

/** Where an EpochState sits: on its own, or nested (errors then name the outer message). */
export interface EpochStatePlacement {
  fields: WireFields;
  /** Prefix of field paths, e.g. `latest_epoch.`. */
  path: string;
}

const OWN_MESSAGE: EpochStatePlacement = { fields: wireFields('EpochState'), path: '' };

/** Field checks on an already-parsed EpochState. */
export function epochStateFromProtobuf(
  raw: EpochState,
  { fields, path }: EpochStatePlacement = OWN_MESSAGE,
): EpochStateMessage {
  const operators = fields
    .list(`${path}operators`, raw.operators, { maxItems: MAX_OPERATORS_PER_MESSAGE })
    .map(
      (operator, index): EpochOperator => ({
        operator: fields.address(
          `${path}operators[${index}].operator_address`,
          operator.operatorAddress,
        ),
        signingKey: fields.address(`${path}operators[${index}].signing_key`, operator.signingKey),
        weightWei: fields.uint256(`${path}operators[${index}].weight`, operator.weight),
      }),
    );
  fields.distinctAddresses(
    `${path}operators`,
    operators.map((entry) => entry.operator),
  );
  const totalWeightWei = fields.uint256(`${path}total_weight`, raw.totalWeight);
  const thresholdWeightWei = fields.uint256(`${path}threshold_weight`, raw.thresholdWeight);
  if (thresholdWeightWei > totalWeightWei) {
    fields.fail('INCONSISTENT_FIELDS', `${path}threshold_weight`, 'exceeds total_weight');
  }
  return {
    epoch: raw.epoch,
    startBlock: raw.startBlock,
    minimumWeightWei: fields.uint256(`${path}minimum_weight`, raw.minimumWeight),
    totalWeightWei,
    thresholdWeightWei,
    operators,
    publishedAtMs: fields.safeInteger(`${path}published_at_ms`, raw.publishedAtMs),
  };
}

export function epochStateToProtobuf(
  state: EpochStateMessage,
  { fields, path }: EpochStatePlacement = OWN_MESSAGE,
): EpochState {
  fields.list(`${path}operators`, state.operators, { maxItems: MAX_OPERATORS_PER_MESSAGE });
  const operators = state.operators.map((entry, index) => ({
    operatorAddress: fields.addressBytes(
      `${path}operators[${index}].operator_address`,
      entry.operator,
    ),
    signingKey: fields.addressBytes(`${path}operators[${index}].signing_key`, entry.signingKey),
    weight: fields.uint256Bytes(`${path}operators[${index}].weight`, entry.weightWei),
  }));
  fields.distinctAddresses(
    `${path}operators`,
    state.operators.map((entry) => entry.operator),
  );
  if (state.thresholdWeightWei > state.totalWeightWei) {
    fields.fail('INCONSISTENT_FIELDS', `${path}threshold_weight`, 'exceeds total_weight');
  }
  return {
    epoch: fields.uint32(`${path}epoch`, state.epoch),
    startBlock: fields.uint64(`${path}start_block`, state.startBlock),
    minimumWeight: fields.uint256Bytes(`${path}minimum_weight`, state.minimumWeightWei),
    totalWeight: fields.uint256Bytes(`${path}total_weight`, state.totalWeightWei),
    thresholdWeight: fields.uint256Bytes(`${path}threshold_weight`, state.thresholdWeightWei),
    operators,
    publishedAtMs: fields.uint64(`${path}published_at_ms`, state.publishedAtMs),
  };
}

export function decodeEpochState(bytes: Uint8Array): EpochStateMessage {
  return epochStateFromProtobuf(
    decodeProtobuf('EpochState', EpochState, bytes, MAX_EPOCH_STATE_BYTES),
  );
}

export function encodeEpochState(state: EpochStateMessage): Uint8Array {
  return encodeProtobuf(
    'EpochState',
    EpochState,
    epochStateToProtobuf(state),
    MAX_EPOCH_STATE_BYTES,
  );
}
