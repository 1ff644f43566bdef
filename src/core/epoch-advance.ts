import type { Address } from 'viem';
import { addressKey, compareAddresses, toChecksumAddress } from './address.ts';
import type { EpochOperator, EpochStateRow } from './epoch-state.ts';
import { DuplicateOperatorError, EpochOutOfOrderError, MissingChainReadError } from './errors.ts';
import { applyEpochStart } from './operator-lifecycle.ts';
import type { OperatorRecord } from './operator-record.ts';
import type { OperatorStatusChange } from './operator-transitions.ts';
import { toEpochNumber, toUint } from './uint.ts';

/** The registry's view of one operator at an epoch (`…AtEpoch` reads). */
export interface OperatorEpochRead {
  readonly operator: Address;
  readonly weightWei: bigint;
  readonly signingKey: Address;
}

/** Everything read from the main chain for one epoch advance. */
export interface EpochChainReads {
  readonly epoch: number;
  readonly startBlock: bigint;
  readonly minimumWeightWei: bigint;
  readonly totalWeightWei: bigint;
  readonly thresholdWeightWei: bigint;
  /** One read per operator; unactive operators may be omitted (they keep their last values). */
  readonly operators: readonly OperatorEpochRead[];
}

export interface EpochAdvance<T extends OperatorRecord> {
  readonly epoch: number;
  /** Every operator with its new status, weight and signing key, ascending by address. */
  readonly operators: readonly T[];
  readonly statusChanges: readonly OperatorStatusChange[];
  /** The `epoch_operators` snapshot: the active operators, ascending by address. */
  readonly epochOperators: readonly EpochOperator[];
  readonly epochState: EpochStateRow;
}

/**
 * The epoch-start step of SPEC §3 as a pure function: apply the status rules, refresh every
 * operator's weight and signing key from the registry reads, snapshot the active operators and
 * the epoch's weights. Applying the same epoch twice gives the same result, and applying epochs
 * a, b, c in order gives what stepping through them gives (the rules use ≤, not ==).
 */
export function advanceEpoch<T extends OperatorRecord>(
  operators: readonly T[],
  reads: EpochChainReads,
): EpochAdvance<T> {
  const epoch = toEpochNumber('epoch', reads.epoch);
  const readsByOperator = indexReads(reads.operators);
  const statusChanges: OperatorStatusChange[] = [];
  const advanced: T[] = [];
  for (const record of sortedUnique(operators)) {
    const { operator, change } = applyEpochStart(record, epoch);
    if (change !== null) statusChanges.push(change);
    const read = readsByOperator.get(addressKey(record.address));
    if (read === undefined) {
      if (operator.status !== 'unactive') throw new MissingChainReadError(record.address, epoch);
      advanced.push(operator);
    } else {
      advanced.push({ ...operator, weightWei: read.weightWei, signingKey: read.signingKey });
    }
  }
  return {
    epoch,
    operators: advanced,
    statusChanges,
    epochOperators: advanced
      .filter((record) => record.status === 'active')
      .map((record) => ({
        operator: record.address,
        weightWei: record.weightWei,
        signingKey: record.signingKey,
      })),
    epochState: {
      epoch,
      startBlock: toUint('startBlock', reads.startBlock, 'uint64'),
      minimumWeightWei: toUint('minimumWeightWei', reads.minimumWeightWei, 'uint256'),
      totalWeightWei: toUint('totalWeightWei', reads.totalWeightWei, 'uint256'),
      thresholdWeightWei: toUint('thresholdWeightWei', reads.thresholdWeightWei, 'uint256'),
    },
  };
}

/**
 * Catches up epochs missed while the node was down: applies `readsInOrder` (strictly ascending
 * epochs) one after the other and returns every step, so each epoch's snapshot can be stored.
 */
export function catchUpEpochs<T extends OperatorRecord>(
  operators: readonly T[],
  readsInOrder: readonly EpochChainReads[],
): EpochAdvance<T>[] {
  const steps: EpochAdvance<T>[] = [];
  let current = operators;
  let previousEpoch: number | undefined;
  for (const reads of readsInOrder) {
    if (previousEpoch !== undefined && reads.epoch <= previousEpoch) {
      throw new EpochOutOfOrderError(previousEpoch, reads.epoch);
    }
    const step = advanceEpoch(current, reads);
    steps.push(step);
    current = step.operators;
    previousEpoch = reads.epoch;
  }
  return steps;
}

function sortedUnique<T extends OperatorRecord>(operators: readonly T[]): T[] {
  const seen = new Set<string>();
  for (const record of operators) {
    const key = addressKey(record.address);
    if (seen.has(key)) throw new DuplicateOperatorError(record.address, 'the operator records');
    seen.add(key);
  }
  return [...operators].sort((a, b) => compareAddresses(a.address, b.address));
}

function indexReads(reads: readonly OperatorEpochRead[]): Map<string, OperatorEpochRead> {
  const byOperator = new Map<string, OperatorEpochRead>();
  for (const read of reads) {
    const key = addressKey(read.operator);
    if (byOperator.has(key)) throw new DuplicateOperatorError(read.operator, 'the epoch reads');
    byOperator.set(key, {
      operator: read.operator,
      weightWei: toUint(`weightWei of ${read.operator}`, read.weightWei, 'uint256'),
      signingKey: toChecksumAddress(`signingKey of ${read.operator}`, read.signingKey),
    });
  }
  return byOperator;
}
