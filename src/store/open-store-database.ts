import { Kysely, type LogEvent } from 'kysely';
import type { Clock } from '../ports/clock.ts';
import { mapDatabaseError } from './map-database-error.ts';
import { type Migration, type MigrationReport, migrate, type StoreKind } from './migrate.ts';
import { createRootContext, type QueryContext } from './query-context.ts';
import { checkSchemaName } from './schema-name.ts';
import type { StoreDriver } from './store-driver.ts';

/** Options both stores take; dependencies come separately (`createX(deps, opts)` habit). */
export interface OpenStoreOptions {
  /** The node's own Postgres schema, e.g. "registry" or "node_3"; created if missing. */
  schema: string;
  /** Called after every query the store runs (not migrations), e.g. for metrics. */
  onQuery?: (event: StoreQueryEvent) => void;
}

export interface StoreQueryEvent {
  sql: string;
  durationMs: number;
  failed: boolean;
}

export interface StoreDeps {
  /** Source of created_at / updated_at, so the simulator's virtual time is what gets stored. */
  clock: Pick<Clock, 'now'>;
}

export interface StoreDatabase<DB> {
  readonly schema: string;
  readonly kysely: Kysely<DB>;
  readonly root: QueryContext<DB>;
  readonly migrations: MigrationReport;
}

/** Migrates the schema, then opens a Kysely handle bound to it. */
export async function openStoreDatabase<DB>(
  kind: StoreKind,
  driver: StoreDriver,
  migrations: readonly Migration[],
  options: OpenStoreOptions,
  deps: StoreDeps,
): Promise<StoreDatabase<DB>> {
  const schema = checkSchemaName(`open ${kind} store`, options.schema);
  const report = await migrate(driver.migrationRunner, { kind, schema, migrations }, deps);
  const onQuery = options.onQuery;
  const kysely = new Kysely<DB>({
    dialect: driver.createDialect(),
    ...(onQuery ? { log: (event: LogEvent) => onQuery(toQueryEvent(event)) } : {}),
  });
  return {
    schema,
    kysely,
    root: createRootContext(kysely, schema, deps.clock),
    migrations: report,
  };
}

function toQueryEvent(event: LogEvent): StoreQueryEvent {
  return {
    sql: event.query.sql,
    durationMs: event.queryDurationMillis,
    failed: event.level === 'error',
  };
}

/**
 * Runs caller code in a transaction. Errors the caller's code throws pass through untouched;
 * errors from BEGIN / COMMIT themselves become typed StoreErrors.
 */
export async function runCallerTransaction<DB, Tx, T>(
  root: QueryContext<DB>,
  scope: (context: QueryContext<DB>) => Tx,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  let thrownByWork: { error: unknown } | undefined;
  try {
    return await root.transaction(async (context) => {
      try {
        return await work(scope(context));
      } catch (error) {
        thrownByWork = { error };
        throw error;
      }
    });
  } catch (error) {
    if (thrownByWork && thrownByWork.error === error) throw error;
    throw mapDatabaseError('transaction', error);
  }
}
