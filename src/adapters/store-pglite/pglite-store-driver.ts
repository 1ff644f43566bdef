import type { PGlite as PGliteInstance, Transaction } from '@electric-sql/pglite';
import {
  PGliteDialect,
  type PGlite as PGliteForKysely,
  type PGliteQueryOptions,
  type PGliteTransaction,
} from 'kysely';
import type { MigrationRunner, MigrationSession } from '../../store/migrate.ts';
import type { StoreDriver } from '../../store/store-driver.ts';
import { STORE_TYPE_PARSERS } from '../../store/value-parsers.ts';
import { queryPrepared, queryPreparedInTransaction } from './prepared-query.ts';

/**
 * A StoreDriver over one PGlite instance, which many stores (each in its own schema) may share.
 *
 * - NUMERIC → bigint and INT8 → number are passed as per-query `parsers`, so the instance's own
 *   configuration (and anyone else's queries on it) is left alone.
 * - Closing a store never closes the instance: whoever created it closes it.
 * - Store queries run as prepared statements in one protocol exchange (prepared-query.ts), not
 *   through `PGlite.query`'s six: same results, a fraction of the cost per call.
 * - PGlite runs one transaction at a time for the whole instance (plain queries wait for it), so a
 *   transaction of one store never interleaves with another store's queries.
 */
export function createPgliteStoreDriver(pglite: PGliteInstance): StoreDriver {
  return {
    createDialect: () => new PGliteDialect({ pglite: shareWithStoreParsers(pglite) }),
    migrationRunner: createPgliteMigrationRunner(pglite),
  };
}

function withStoreParsers(options: PGliteQueryOptions | undefined): PGliteQueryOptions {
  return { ...options, parsers: { ...options?.parsers, ...STORE_TYPE_PARSERS } };
}

/** The subset of PGlite Kysely uses, with the store's parsers and without ownership. */
function shareWithStoreParsers(pglite: PGliteInstance): PGliteForKysely {
  return {
    get closed() {
      return pglite.closed;
    },
    get ready() {
      return pglite.ready;
    },
    get waitReady() {
      return pglite.waitReady;
    },
    close: async () => {},
    query: (sql, params, options) => queryPrepared(pglite, sql, params, withStoreParsers(options)),
    transaction: (work) =>
      pglite.transaction((tx: Transaction) => {
        const scoped: PGliteTransaction = {
          query: (sql, params, options) =>
            queryPreparedInTransaction(pglite, tx, sql, params, withStoreParsers(options)),
          rollback: () => tx.rollback(),
        };
        return work(scoped);
      }),
  };
}

function createPgliteMigrationRunner(pglite: PGliteInstance): MigrationRunner {
  return {
    transaction: (work) =>
      pglite.transaction((tx) => {
        const session: MigrationSession = {
          execScript: async (script) => {
            await tx.exec(script);
          },
          query: async <Row>(sql: string, params: readonly unknown[]) =>
            (await tx.query<Row>(sql, [...params], { parsers: { ...STORE_TYPE_PARSERS } })).rows,
        };
        return work(session);
      }),
  };
}
