/**
 * Typed store errors. Each has a stable `code` to match on; messages name the operation and the
 * field, constraint or row, so whoever reads the log knows what to fix.
 */

export type StoreErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'CHECK_VIOLATION'
  | 'UNIQUE_VIOLATION'
  | 'FOREIGN_KEY_VIOLATION'
  | 'NOT_NULL_VIOLATION'
  | 'MIGRATION_FAILED'
  | 'DATABASE_UNAVAILABLE'
  | 'QUERY_FAILED';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
  /** The repository call that failed, e.g. "operators.upsert". */
  readonly operation: string;

  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super(`${operation}: ${message}`, options);
    this.operation = operation;
  }
}

/** An argument was rejected before any query ran. `field` is a path such as `epochOperators[2].weightWei`. */
export class StoreInputError extends StoreError {
  readonly code = 'INVALID_INPUT';
  override readonly name = 'StoreInputError';
  readonly field: string;

  constructor(operation: string, field: string, problem: string) {
    super(operation, `${field}: ${problem}`);
    this.field = field;
  }
}

/** The row the call needs does not exist. */
export class StoreNotFoundError extends StoreError {
  readonly code = 'NOT_FOUND';
  override readonly name = 'StoreNotFoundError';
  readonly entity: string;
  readonly key: string;

  constructor(operation: string, entity: string, key: string) {
    super(operation, `no ${entity} ${key}`);
    this.entity = entity;
    this.key = key;
  }
}

/** Why a well-formed write was refused given the rows already stored. */
export type StoreConflictReason =
  /** The row's status is not the one the caller expected (a concurrent change won). */
  | 'STATUS_PRECONDITION'
  /** A task id is already stored with different task fields. */
  | 'TASK_MISMATCH'
  /** The task already ended (completed / failed / expired) in another way. */
  | 'TASK_FINAL'
  /** An epoch older than the latest stored one was applied. */
  | 'EPOCH_ORDER'
  /** The store belongs to another operator. */
  | 'LOCAL_OPERATOR_MISMATCH'
  /** A completion names a signer that did not sign, or is not in the epoch's snapshot. */
  | 'SIGNER_INVALID'
  /** A completion's signed weight is below the epoch's threshold. */
  | 'BELOW_THRESHOLD'
  /** A queue job with this idempotency key exists with a different payload. */
  | 'IDEMPOTENCY_MISMATCH'
  /** The caller's lease on a queue job is gone: it ran out and another worker took the job. */
  | 'LEASE_LOST'
  /** The queue job already ended (done or failed); acking or retrying it again changes nothing. */
  | 'JOB_FINISHED';

/** The write contradicts stored state; the stored rows are unchanged. */
export class StoreConflictError extends StoreError {
  readonly code = 'CONFLICT';
  override readonly name = 'StoreConflictError';
  readonly reason: StoreConflictReason;

  constructor(operation: string, reason: StoreConflictReason, message: string) {
    super(operation, message);
    this.reason = reason;
  }
}

/** Details Postgres attaches to a constraint error. */
export interface ConstraintDetails {
  /** Constraint (or domain constraint) name, e.g. "operators_status_check", "uint256_range". */
  constraint: string | undefined;
  table: string | undefined;
  column: string | undefined;
  /** Domain name when a domain's CHECK failed, e.g. "uint256". */
  dataType: string | undefined;
  /** Postgres' own description, e.g. "Key (address)=(0x…) already exists." */
  detail: string | undefined;
}

abstract class ConstraintViolationError extends StoreError {
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly dataType: string | undefined;
  readonly detail: string | undefined;

  constructor(operation: string, what: string, details: ConstraintDetails, cause: unknown) {
    super(operation, `${what}${describeConstraint(details)}`, { cause });
    this.constraint = details.constraint;
    this.table = details.table;
    this.column = details.column;
    this.dataType = details.dataType;
    this.detail = details.detail;
  }
}

/** Postgres 23514: a CHECK (or domain CHECK) constraint rejected a value. */
export class CheckViolationError extends ConstraintViolationError {
  readonly code = 'CHECK_VIOLATION';
  override readonly name = 'CheckViolationError';

  constructor(operation: string, details: ConstraintDetails, cause: unknown) {
    super(operation, 'check constraint violated', details, cause);
  }
}

/** Postgres 23505: a row with the same unique key exists. */
export class UniqueViolationError extends ConstraintViolationError {
  readonly code = 'UNIQUE_VIOLATION';
  override readonly name = 'UniqueViolationError';

  constructor(operation: string, details: ConstraintDetails, cause: unknown) {
    super(operation, 'unique constraint violated', details, cause);
  }
}

/** Postgres 23503: a referenced row does not exist (or is still referenced). */
export class ForeignKeyViolationError extends ConstraintViolationError {
  readonly code = 'FOREIGN_KEY_VIOLATION';
  override readonly name = 'ForeignKeyViolationError';

  constructor(operation: string, details: ConstraintDetails, cause: unknown) {
    super(operation, 'foreign key violated', details, cause);
  }
}

/** Postgres 23502: a required column was null. */
export class NotNullViolationError extends ConstraintViolationError {
  readonly code = 'NOT_NULL_VIOLATION';
  override readonly name = 'NotNullViolationError';

  constructor(operation: string, details: ConstraintDetails, cause: unknown) {
    super(operation, 'not-null constraint violated', details, cause);
  }
}

/** A migration could not be applied, or the database holds migrations this build does not know. */
export class StoreMigrationError extends StoreError {
  readonly code = 'MIGRATION_FAILED';
  override readonly name = 'StoreMigrationError';
  readonly schema: string;

  constructor(schema: string, message: string, options?: { cause?: unknown }) {
    super(`migrate ${schema}`, message, options);
    this.schema = schema;
  }
}

/** The database could not be reached or dropped the connection. */
export class StoreUnavailableError extends StoreError {
  readonly code = 'DATABASE_UNAVAILABLE';
  override readonly name = 'StoreUnavailableError';

  constructor(operation: string, message: string, cause: unknown) {
    super(operation, `database unavailable: ${message}`, { cause });
  }
}

/** Any other database error; `sqlState` is Postgres' SQLSTATE when there is one. */
export class StoreQueryError extends StoreError {
  readonly code = 'QUERY_FAILED';
  override readonly name = 'StoreQueryError';
  readonly sqlState: string | undefined;

  constructor(operation: string, message: string, sqlState: string | undefined, cause: unknown) {
    super(operation, sqlState ? `${message} (SQLSTATE ${sqlState})` : message, { cause });
    this.sqlState = sqlState;
  }
}

function describeConstraint(details: ConstraintDetails): string {
  const parts: string[] = [];
  if (details.constraint) parts.push(`constraint ${details.constraint}`);
  if (details.dataType) parts.push(`domain ${details.dataType}`);
  if (details.table) parts.push(`table ${details.table}`);
  if (details.column) parts.push(`column ${details.column}`);
  const where = parts.length > 0 ? `: ${parts.join(', ')}` : '';
  return details.detail ? `${where} (${details.detail})` : where;
}
