import type { Address } from 'viem';

/**
 * Typed errors of the registry node's components. Each has a stable `code` (match on it, never on
 * the message); messages name the operator or epoch concerned.
 */
export type RegistryErrorCode =
  /** An admin action named an operator the registry has no record of. */
  | 'UNKNOWN_OPERATOR'
  /** An epoch advance kept losing races against joins (recomputed and retried, then gave up). */
  | 'EPOCH_ADVANCE_CONTENDED'
  /** The component was stopped while the caller was waiting on it. */
  | 'STOPPED'
  /** A registry option is invalid (names the option). */
  | 'INVALID_REGISTRY_CONFIG';

export abstract class RegistryError extends Error {
  abstract readonly code: RegistryErrorCode;
}

export class UnknownOperatorError extends RegistryError {
  readonly code = 'UNKNOWN_OPERATOR';
  override readonly name = 'UnknownOperatorError';
  readonly operator: Address;

  constructor(operator: Address, action: string) {
    super(`${action}: no operator ${operator} is registered with this registry`);
    this.operator = operator;
  }
}

export class EpochAdvanceContendedError extends RegistryError {
  readonly code = 'EPOCH_ADVANCE_CONTENDED';
  override readonly name = 'EpochAdvanceContendedError';
  readonly epoch: number;

  constructor(epoch: number, attempts: number, cause: unknown) {
    super(
      `epoch ${epoch}: operator statuses changed under the advance ${attempts} times in a row (concurrent joins); it is retried on the next head`,
      { cause },
    );
    this.epoch = epoch;
  }
}

export class RegistryStoppedError extends RegistryError {
  readonly code = 'STOPPED';
  override readonly name = 'RegistryStoppedError';

  constructor(component: string) {
    super(`${component} stopped`);
  }
}

export class RegistryConfigError extends RegistryError {
  readonly code = 'INVALID_REGISTRY_CONFIG';
  override readonly name = 'RegistryConfigError';
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}
