import type { Address } from 'viem';
import type { OperatorStatus } from './operator-status.ts';
import type { TransitionTrigger } from './operator-transitions.ts';

/**
 * Typed errors of the pure core. Each has a stable `code` (match on it, never on the message) and
 * carries the offending values as fields, so callers can log them as data.
 */
export type CoreErrorCode =
  | 'ILLEGAL_TRANSITION'
  | 'FIELD_OUT_OF_RANGE'
  | 'INVALID_ADDRESS'
  | 'INVALID_EPOCH_PARAMS'
  | 'BLOCK_BEFORE_GENESIS'
  | 'MISSING_CHAIN_READ'
  | 'EPOCH_OUT_OF_ORDER'
  | 'DUPLICATE_OPERATOR'
  | 'INVALID_TASK_CONFIG';

export abstract class CoreError extends Error {
  abstract readonly code: CoreErrorCode;
}

/** A status change that the operator lifecycle does not allow. */
export class IllegalTransitionError extends CoreError {
  readonly code = 'ILLEGAL_TRANSITION';
  override readonly name = 'IllegalTransitionError';
  readonly from: OperatorStatus;
  readonly to: OperatorStatus;
  readonly trigger: TransitionTrigger;
  readonly reason: string;
  readonly operator: Address | undefined;

  constructor(args: {
    from: OperatorStatus;
    to: OperatorStatus;
    trigger: TransitionTrigger;
    reason: string;
    operator?: Address | undefined;
  }) {
    const who = args.operator === undefined ? 'operator' : `operator ${args.operator}`;
    super(
      `${who}: illegal status transition ${args.from} → ${args.to} (${args.trigger}): ${args.reason}`,
    );
    this.from = args.from;
    this.to = args.to;
    this.trigger = args.trigger;
    this.reason = args.reason;
    this.operator = args.operator;
  }
}

/** A value does not fit the Solidity type it is encoded as; we never truncate. */
export class FieldOutOfRangeError extends CoreError {
  readonly code = 'FIELD_OUT_OF_RANGE';
  override readonly name = 'FieldOutOfRangeError';
  readonly field: string;
  readonly solidityType: string;
  /** The rejected value, as text (it may be a bigint, a fraction or NaN). */
  readonly value: string;

  constructor(field: string, value: bigint | number, solidityType: string) {
    super(`${field} = ${String(value)} does not fit ${solidityType}`);
    this.field = field;
    this.solidityType = solidityType;
    this.value = String(value);
  }
}

export class InvalidAddressError extends CoreError {
  readonly code = 'INVALID_ADDRESS';
  override readonly name = 'InvalidAddressError';
  readonly field: string;
  readonly value: string;

  constructor(field: string, value: string) {
    super(
      `${field} = ${JSON.stringify(value)} is not a 20-byte hex address (or its checksum is wrong)`,
    );
    this.field = field;
    this.value = value;
  }
}

/** Epoch constants the EpochManager constructor would have rejected. */
export class InvalidEpochParamsError extends CoreError {
  readonly code = 'INVALID_EPOCH_PARAMS';
  override readonly name = 'InvalidEpochParamsError';

  constructor(problem: string) {
    super(`invalid epoch parameters: ${problem}`);
  }
}

/** Mirrors EpochManager__BlockBeforeGenesis. */
export class BlockBeforeGenesisError extends CoreError {
  readonly code = 'BLOCK_BEFORE_GENESIS';
  override readonly name = 'BlockBeforeGenesisError';
  readonly blockNumber: bigint;
  readonly genesisBlock: bigint;

  constructor(blockNumber: bigint, genesisBlock: bigint) {
    super(`block ${blockNumber} is before the epoch genesis block ${genesisBlock}`);
    this.blockNumber = blockNumber;
    this.genesisBlock = genesisBlock;
  }
}

/** An epoch advance was given no registry read for an operator it must refresh. */
export class MissingChainReadError extends CoreError {
  readonly code = 'MISSING_CHAIN_READ';
  override readonly name = 'MissingChainReadError';
  readonly operator: Address;
  readonly epoch: number;

  constructor(operator: Address, epoch: number) {
    super(
      `no weight/signing-key read for operator ${operator} at epoch ${epoch} (read getOperatorWeightAtEpoch and getOperatorSigningKeyAtEpoch for every operator)`,
    );
    this.operator = operator;
    this.epoch = epoch;
  }
}

/** Epochs must be applied in strictly ascending order. */
export class EpochOutOfOrderError extends CoreError {
  readonly code = 'EPOCH_OUT_OF_ORDER';
  override readonly name = 'EpochOutOfOrderError';
  readonly previousEpoch: number;
  readonly epoch: number;

  constructor(previousEpoch: number, epoch: number) {
    super(
      `epoch ${epoch} cannot follow epoch ${previousEpoch}: epochs are applied in ascending order`,
    );
    this.previousEpoch = previousEpoch;
    this.epoch = epoch;
  }
}

/** The same operator appears twice where each must appear once. */
export class DuplicateOperatorError extends CoreError {
  readonly code = 'DUPLICATE_OPERATOR';
  override readonly name = 'DuplicateOperatorError';
  readonly operator: Address;
  readonly where: string;

  constructor(operator: Address, where: string) {
    super(`operator ${operator} appears more than once in ${where}`);
    this.operator = operator;
    this.where = where;
  }
}

/** Task timing or retry configuration that cannot work (a zero deadline, a fractional retry count). */
export class InvalidTaskConfigError extends CoreError {
  readonly code = 'INVALID_TASK_CONFIG';
  override readonly name = 'InvalidTaskConfigError';
  readonly field: string;

  constructor(field: string, value: number, requirement: string) {
    super(`task config ${field} = ${value}: must be ${requirement}`);
    this.field = field;
  }
}
