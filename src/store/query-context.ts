import type { Kysely } from 'kysely';
import type { Clock } from '../ports/clock.ts';
import { mapDatabaseError } from './map-database-error.ts';

/**
 * What a repository runs its queries through: a Kysely handle already bound to the store's schema
 * (every table reference is qualified, so stores sharing a database never see each other's rows
 * and no connection-wide search_path is needed), either the store's root handle or an open
 * transaction.
 */
export interface QueryContext<DB> {
  readonly db: Kysely<DB>;
  readonly clock: Pick<Clock, 'now'>;
  /** Runs `work` atomically: inside an open transaction it joins it, otherwise it starts one. */
  transaction<T>(work: (context: QueryContext<DB>) => Promise<T>): Promise<T>;
}

export function createRootContext<DB>(
  kysely: Kysely<DB>,
  schema: string,
  clock: Pick<Clock, 'now'>,
): QueryContext<DB> {
  const db = kysely.withSchema(schema);
  return {
    db,
    clock,
    transaction: (work) =>
      db.transaction().execute((trx) => work(createTransactionContext(trx, clock))),
  };
}

function createTransactionContext<DB>(
  trx: Kysely<DB>,
  clock: Pick<Clock, 'now'>,
): QueryContext<DB> {
  const context: QueryContext<DB> = { db: trx, clock, transaction: (work) => work(context) };
  return context;
}

/** Runs one repository call, turning driver errors into typed StoreErrors named after it. */
export async function runQuery<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(operation, error);
  }
}

/** The clock's now as the Date a TIMESTAMPTZ column takes. */
export function nowAsDate(clock: Pick<Clock, 'now'>): Date {
  return new Date(clock.now());
}
