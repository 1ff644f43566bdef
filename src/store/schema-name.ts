import { StoreInputError } from './errors.ts';

/**
 * Every node keeps its tables in its own Postgres schema, so many nodes can share one database
 * (the simulator puts all of them in one PGlite). Names are restricted to plain lowercase
 * identifiers: they are interpolated into DDL, and a name that needs quoting is a typo waiting
 * to happen.
 */
const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(operation: string, schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME_PATTERN.test(schema)) {
    throw new StoreInputError(
      operation,
      'schema',
      `expected a lowercase identifier of at most 63 characters ([a-z_][a-z0-9_]*), got ${JSON.stringify(schema)}`,
    );
  }
  if (schema.startsWith('pg_') || schema === 'information_schema' || schema === 'public') {
    throw new StoreInputError(
      operation,
      'schema',
      `${schema} is reserved; give each node its own schema, e.g. "node_1"`,
    );
  }
  return schema;
}

/** Double-quotes an identifier already accepted by checkSchemaName. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
