import { PostgresDialect } from 'kysely';
import type pg from 'pg';
import type { MigrationRunner, MigrationSession } from '../../store/migrate.ts';
import type { StoreDriver } from '../../store/store-driver.ts';
import type { PostgresStorePool } from './postgres-store-pool.ts';

/**
 * A StoreDriver over a Postgres server. Stores never change session state (each query names its
 * schema; migrations use SET LOCAL inside their transaction), so they can share one pool and any
 * of its connections.
 */
export function createPostgresStoreDriver(storePool: PostgresStorePool): StoreDriver {
  const { pool } = storePool;
  return {
    createDialect: () =>
      new PostgresDialect({
        // The pool is shared: closing one store must not end it.
        pool: { connect: () => pool.connect(), end: async () => {}, options: pool.options },
      }),
    migrationRunner: createPostgresMigrationRunner(pool),
  };
}

function createPostgresMigrationRunner(pool: pg.Pool): MigrationRunner {
  return {
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const session: MigrationSession = {
          execScript: async (script) => {
            // Without parameters pg uses the simple query protocol, which runs several statements.
            await client.query(script);
          },
          query: async <Row>(sql: string, params: readonly unknown[]) =>
            (await client.query(sql, [...params])).rows as Row[],
        };
        const result = await work(session);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken =
            rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it.
        client.release(broken);
      }
    },
  };
}
