import type { Clock } from '../../ports/clock.ts';
import { StoreQueryError, StoreUnavailableError } from '../../store/errors.ts';
import type { MigrationReport } from '../../store/migrate.ts';
import type { OpenStoreOptions } from '../../store/open-store-database.ts';
import { checkSchemaName } from '../../store/schema-name.ts';
import type { UndoLog } from './journaled-map.ts';
import type { StoreLock } from './store-lock.ts';

/** What every memory store's tables carry: the lock and undo log all handles on them share. */
export interface MemoryTablesBase {
  readonly lock: StoreLock;
  readonly undo: UndoLog;
}

/** What memory repositories run on: the tables, and how one call gets its turn at them. */
export interface MemoryContextOf<Tables extends MemoryTablesBase> {
  readonly tables: Tables;
  readonly clock: Pick<Clock, 'now'>;
  /**
   * Runs one call's work (synchronous, so no other call can interleave with it) once the call
   * may touch the tables: at once inside a transaction, after any open transaction outside one.
   * The call is atomic: when `work` throws, the writes it made are undone (as a failed SQL
   * statement changes nothing).
   */
  run<T>(operation: string, work: () => T): Promise<T>;
}

export interface MemoryStoreShell<Repositories> {
  readonly repositories: Repositories;
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The part every memory store shares: one call at a time, transactions that hold the tables
 * until they end and undo every write when they throw, `onQuery` told about each call as the SQL
 * adapters tell it about each query, and a handle that refuses calls once closed.
 */
export function openMemoryStoreShell<Tables extends MemoryTablesBase, Repositories>(args: {
  tables: Tables;
  clock: Pick<Clock, 'now'>;
  onQuery?: ((query: { sql: string; durationMs: number; failed: boolean }) => void) | undefined;
  createRepositories: (context: MemoryContextOf<Tables>) => Repositories;
}): MemoryStoreShell<Repositories> {
  const { tables, clock, onQuery, createRepositories } = args;
  let closed = false;

  /** Runs one call atomically, telling `onQuery` about it. */
  const runCall = <T>(operation: string, work: () => T): T => {
    const outer = tables.undo.current;
    const log = outer ?? [];
    const mark = log.length;
    if (outer === undefined) tables.undo.current = log;
    let failed = true;
    try {
      const result = work();
      failed = false;
      return result;
    } catch (error) {
      for (const step of log.splice(mark).reverse()) step();
      throw error;
    } finally {
      if (outer === undefined) tables.undo.current = undefined;
      onQuery?.({ sql: `memory: ${operation}`, durationMs: 0, failed });
    }
  };
  const root: MemoryContextOf<Tables> = {
    tables,
    clock,
    run: (operation, work) => {
      if (closed) return Promise.reject(closedError(operation));
      return tables.lock.immediate(() => runCall(operation, work));
    },
  };

  return {
    repositories: createRepositories(root),
    transaction(work) {
      if (closed) return Promise.reject(closedError('transaction'));
      return tables.lock.exclusive(async () => {
        let open = true;
        const tx: MemoryContextOf<Tables> = {
          tables,
          clock,
          run: async (operation, call) => {
            if (!open) {
              throw new StoreQueryError(
                operation,
                'its transaction has ended',
                undefined,
                undefined,
              );
            }
            return runCall(operation, call);
          },
        };
        const undo: (() => void)[] = [];
        tables.undo.current = undo;
        try {
          const result = await work(createRepositories(tx));
          tables.undo.current = undefined;
          return result;
        } catch (error) {
          tables.undo.current = undefined;
          for (const step of undo.reverse()) step();
          throw error;
        } finally {
          open = false;
        }
      });
    },
    async close() {
      closed = true;
    },
  };
}

/** A store handle as the SQL openers return it: its repositories, transactions, close. */
export type MemoryStoreHandle<Repositories> = Repositories & {
  readonly schema: string;
  readonly migrations: MigrationReport;
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/**
 * Opens (creating if new) the store named `options.schema` among `schemas`: opening a name again
 * finds its tables as they were (a node restarting over its data).
 */
export function openNamedMemoryStore<Tables extends MemoryTablesBase, Repositories>(args: {
  kind: 'registry' | 'operator';
  schemas: Map<string, Tables>;
  createTables: () => Tables;
  clock: Pick<Clock, 'now'>;
  options: OpenStoreOptions;
  createRepositories: (context: MemoryContextOf<Tables>) => Repositories;
}): MemoryStoreHandle<Repositories> {
  const schema = checkSchemaName(`open ${args.kind} store`, args.options.schema);
  let tables = args.schemas.get(schema);
  if (tables === undefined) {
    tables = args.createTables();
    args.schemas.set(schema, tables);
  }
  const shell = openMemoryStoreShell({
    tables,
    clock: args.clock,
    onQuery: args.options.onQuery,
    createRepositories: args.createRepositories,
  });
  return {
    schema,
    // Nothing to migrate: the tables are created in their current shape.
    migrations: { applied: [], alreadyApplied: [] },
    ...shell.repositories,
    transaction: shell.transaction,
    close: shell.close,
  };
}

function closedError(operation: string): StoreUnavailableError {
  return new StoreUnavailableError(operation, 'the store is closed', undefined);
}
