import pg from 'pg';
import { STORE_TYPE_PARSERS } from '../../store/value-parsers.ts';

/**
 * A pg.Pool configured for the stores: its connections parse NUMERIC as bigint and INT8 as
 * number through the pool's own `types` option, so the `pg` module's global parsers (and other
 * pools in the process) are untouched. Many stores, each in its own schema, can share one pool.
 */
export interface PostgresStorePool {
  readonly pool: pg.Pool;
  /** Closes every connection; call after closing the stores that use it. */
  end(): Promise<void>;
}

export interface PostgresStorePoolOptions {
  /** e.g. "postgres://user@127.0.0.1:5432/spotted" */
  connectionString: string;
  /** Upper bound on open connections; default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before failing; default 10 s. */
  connectionTimeoutMs?: number;
}

const storeTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    const parser = format === 'binary' ? undefined : STORE_TYPE_PARSERS[oid];
    return parser ?? pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPostgresStorePool(options: PostgresStorePoolOptions): PostgresStorePool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    types: storeTypes,
  });
  // An idle connection that dies (server restart) emits 'error' on the pool; without a listener
  // that would crash the process. The next query gets a fresh connection and reports its own error.
  pool.on('error', () => {});
  return { pool, end: () => pool.end() };
}
