/**
 * Typed errors of the operator node. Each has a stable `code` (match on it, never on the message);
 * messages name the option or the peer to fix.
 */
export type OperatorErrorCode = 'INVALID_CONFIG' | 'STORE_OWNED_BY_OTHER_OPERATOR';

export abstract class OperatorError extends Error {
  abstract readonly code: OperatorErrorCode;
}

/** An option is missing or malformed; thrown when the node is created, before anything runs. */
export class OperatorConfigError extends OperatorError {
  readonly code = 'INVALID_CONFIG';
  override readonly name = 'OperatorConfigError';
  /** The option at fault, e.g. `registryBootstrapAddresses[1]`. */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`operator config: ${field}: ${problem}`);
    this.field = field;
  }
}

/** The store's `local_operator` row names another operator: the node was pointed at someone else's database. */
export class StoreOwnedByOtherOperatorError extends OperatorError {
  readonly code = 'STORE_OWNED_BY_OTHER_OPERATOR';
  override readonly name = 'StoreOwnedByOtherOperatorError';
  readonly storedOperator: string;
  readonly configuredOperator: string;

  constructor(storedOperator: string, configuredOperator: string) {
    super(
      `the operator store belongs to ${storedOperator}, but this node is configured as ${configuredOperator}; use a separate schema per operator`,
    );
    this.storedOperator = storedOperator;
    this.configuredOperator = configuredOperator;
  }
}
