import { storedMs } from './stored-values.ts';
import type { InputChecks } from './validate.ts';

/**
 * An epoch's parameters as the registry publishes them; stored by the registry (epoch_states) and
 * by each operator (current_epoch_state). Same shape as the core's EpochStateRow.
 */
export interface EpochStateInput {
  epoch: number;
  /** `getStartBlockForEpoch(epoch)` (column `block_number`). */
  startBlock: bigint;
  minimumWeightWei: bigint;
  totalWeightWei: bigint;
  /** An absolute weight: a proof needs signed weight ≥ this. */
  thresholdWeightWei: bigint;
}

export interface EpochStateRecord extends EpochStateInput {
  updatedAtMs: number;
}

/** The columns both epoch state tables share. */
export interface EpochStateRow {
  epoch_number: number;
  block_number: bigint;
  minimum_weight: bigint;
  total_weight: bigint;
  threshold_weight: bigint;
  updated_at: Date;
}

export function checkEpochState(
  checks: InputChecks,
  field: string,
  value: unknown,
): EpochStateInput {
  checks.require(
    typeof value === 'object' && value !== null,
    field || 'state',
    'expected an object',
  );
  const state = value as Partial<Record<keyof EpochStateInput, unknown>>;
  const at = (name: string) => (field ? `${field}.${name}` : name);
  return {
    epoch: checks.uint32(at('epoch'), state.epoch),
    startBlock: checks.uint64(at('startBlock'), state.startBlock),
    minimumWeightWei: checks.uint256(at('minimumWeightWei'), state.minimumWeightWei),
    totalWeightWei: checks.uint256(at('totalWeightWei'), state.totalWeightWei),
    thresholdWeightWei: checks.uint256(at('thresholdWeightWei'), state.thresholdWeightWei),
  };
}

export function epochStateColumns(state: EpochStateInput, updatedAt: Date): EpochStateRow {
  return {
    epoch_number: state.epoch,
    block_number: state.startBlock,
    minimum_weight: state.minimumWeightWei,
    total_weight: state.totalWeightWei,
    threshold_weight: state.thresholdWeightWei,
    updated_at: updatedAt,
  };
}

export function toEpochStateRecord(row: EpochStateRow): EpochStateRecord {
  return {
    epoch: row.epoch_number,
    startBlock: row.block_number,
    minimumWeightWei: row.minimum_weight,
    totalWeightWei: row.total_weight,
    thresholdWeightWei: row.threshold_weight,
    updatedAtMs: storedMs(row.updated_at),
  };
}
