import { describe, expect, test } from 'vitest';
import {
  CheckViolationError,
  ForeignKeyViolationError,
  NotNullViolationError,
  StoreInputError,
  StoreQueryError,
  StoreUnavailableError,
  UniqueViolationError,
} from './errors.ts';
import { mapDatabaseError } from './map-database-error.ts';

/** The fields pg's and PGlite's DatabaseError both carry. */
interface DatabaseErrorFields {
  code: string;
  message?: string;
  constraint?: string;
  table?: string;
  column?: string;
  dataType?: string;
  detail?: string;
}

function databaseError(fields: DatabaseErrorFields): Error {
  return Object.assign(new Error(fields.message ?? 'database error'), fields);
}

describe('mapDatabaseError', () => {
  test('behavior: constraint SQLSTATEs become their typed errors with the constraint details', () => {
    const check = mapDatabaseError(
      'operators.upsert',
      databaseError({
        code: '23514',
        constraint: 'uint256_range',
        dataType: 'uint256',
        message: 'value for domain uint256 violates check constraint "uint256_range"',
      }),
    );
    expect(check).toBeInstanceOf(CheckViolationError);
    expect(check.message).toBe(
      'operators.upsert: check constraint violated: constraint uint256_range, domain uint256',
    );

    const unique = mapDatabaseError(
      'x',
      databaseError({
        code: '23505',
        constraint: 'operators_pkey',
        table: 'operators',
        detail: 'Key (address)=(0x1) already exists.',
      }),
    );
    expect(unique).toBeInstanceOf(UniqueViolationError);
    expect(unique).toMatchObject({
      code: 'UNIQUE_VIOLATION',
      table: 'operators',
      constraint: 'operators_pkey',
    });
    expect(unique.message).toContain('(Key (address)=(0x1) already exists.)');

    expect(mapDatabaseError('x', databaseError({ code: '23503' }))).toBeInstanceOf(
      ForeignKeyViolationError,
    );
    expect(
      mapDatabaseError('x', databaseError({ code: '23502', column: 'status' })),
    ).toBeInstanceOf(NotNullViolationError);
  });

  test('behavior: connection failures become StoreUnavailableError', () => {
    expect(mapDatabaseError('x', databaseError({ code: 'ECONNREFUSED' }))).toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(mapDatabaseError('x', databaseError({ code: '57P01' }))).toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(mapDatabaseError('x', databaseError({ code: '08006' }))).toMatchObject({
      code: 'DATABASE_UNAVAILABLE',
    });
  });

  test('behavior: anything else keeps its SQLSTATE; store errors pass through', () => {
    const other = mapDatabaseError(
      'x',
      databaseError({ code: '42P01', message: 'relation "t" does not exist' }),
    );
    expect(other).toBeInstanceOf(StoreQueryError);
    expect(other).toMatchObject({
      sqlState: '42P01',
      message: 'x: relation "t" does not exist (SQLSTATE 42P01)',
    });
    expect(mapDatabaseError('x', 'plain string')).toMatchObject({
      code: 'QUERY_FAILED',
      sqlState: undefined,
    });

    const input = new StoreInputError('y', 'field', 'bad');
    expect(mapDatabaseError('x', input)).toBe(input);
  });
});
