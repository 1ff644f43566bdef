import type { Dialect } from 'kysely';
import type { MigrationRunner } from './migrate.ts';

/**
 * What a database adapter (PGlite, a Postgres server) hands to the store: how to reach one
 * Postgres database. Everything above this — migrations, schemas, queries, validation — is shared,
 * so both adapters behave the same and one compliance suite covers them.
 */
export interface StoreDriver {
  /**
   * A new Kysely dialect for one store. Its connections must parse NUMERIC as bigint and INT8 as
   * number (see value-parsers.ts), and destroying it must not close a database that other stores
   * share.
   */
  createDialect(): Dialect;
  readonly migrationRunner: MigrationRunner;
}
