import {
  CheckViolationError,
  type ConstraintDetails,
  ForeignKeyViolationError,
  NotNullViolationError,
  StoreError,
  StoreQueryError,
  StoreUnavailableError,
  UniqueViolationError,
} from './errors.ts';

/** Node socket errors that mean "the server is not there", not "the query was wrong". */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
]);

/**
 * Turns whatever a driver threw (pg's DatabaseError, PGlite's DatabaseError, a socket error) into
 * a StoreError. Both drivers expose Postgres' error fields under the same names.
 */
export function mapDatabaseError(operation: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const fields = readErrorFields(error);
  const details: ConstraintDetails = {
    constraint: fields.constraint,
    table: fields.table,
    column: fields.column,
    dataType: fields.dataType,
    detail: fields.detail,
  };
  switch (fields.code) {
    case '23514':
      return new CheckViolationError(operation, details, error);
    case '23505':
      return new UniqueViolationError(operation, details, error);
    case '23503':
      return new ForeignKeyViolationError(operation, details, error);
    case '23502':
      return new NotNullViolationError(operation, details, error);
  }
  const message = fields.message ?? String(error);
  if (fields.code !== undefined && isConnectionFailure(fields.code)) {
    return new StoreUnavailableError(operation, message, error);
  }
  const sqlState =
    fields.code !== undefined && /^[0-9A-Z]{5}$/.test(fields.code) ? fields.code : undefined;
  return new StoreQueryError(operation, message, sqlState, error);
}

function isConnectionFailure(code: string): boolean {
  // 08xxx connection exceptions, 57P0x admin/crash shutdown, 53300 too many connections.
  return (
    CONNECTION_ERROR_CODES.has(code) ||
    code.startsWith('08') ||
    /^57P0[1-3]$/.test(code) ||
    code === '53300'
  );
}

interface ErrorFields {
  code: string | undefined;
  message: string | undefined;
  constraint: string | undefined;
  table: string | undefined;
  column: string | undefined;
  dataType: string | undefined;
  detail: string | undefined;
}

function readErrorFields(error: unknown): ErrorFields {
  const source: Record<string, unknown> =
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const text = (key: string): string | undefined => {
    const value = source[key];
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  };
  return {
    code: text('code'),
    message: text('message'),
    constraint: text('constraint'),
    table: text('table'),
    column: text('column'),
    dataType: text('dataType'),
    detail: text('detail'),
  };
}
