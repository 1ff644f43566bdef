import { StoreQueryError, StoreUnavailableError } from '../../store/errors.ts';
import type { OpenStoreOptions, StoreDeps } from '../../store/open-store-database.ts';
import type { OperatorStore } from '../../store/operator/operator-store.ts';
import { checkSchemaName } from '../../store/schema-name.ts';
import {
  createMemoryOperatorRepositories,
  type MemoryContext,
} from './memory-operator-repositories.ts';
import { createMemoryOperatorTables, type MemoryOperatorTables } from './memory-operator-tables.ts';

/**
 * An in-process database for operator stores: each schema name holds one operator's tables, and
 * opening the same name again finds them as they were (a node restarting over its data). Nothing
 * outlives the process. The simulator keeps its many operators here instead of in PGlite, where
 * every call costs a round trip through an embedded Postgres; the registry stays on SQL.
 */
export interface MemoryStoreDatabase {
  readonly operatorSchemas: Map<string, MemoryOperatorTables>;
}

export function createMemoryStoreDatabase(): MemoryStoreDatabase {
  return { operatorSchemas: new Map() };
}

export interface MemoryStoreDeps extends StoreDeps {
  database: MemoryStoreDatabase;
}

/** Opens (creating if new) the operator store named `options.schema`. */
export async function openMemoryOperatorStore(
  deps: MemoryStoreDeps,
  options: OpenStoreOptions,
): Promise<OperatorStore> {
  const schema = checkSchemaName('open operator store', options.schema);
  const existing = deps.database.operatorSchemas.get(schema);
  const tables = existing ?? createMemoryOperatorTables();
  if (!existing) deps.database.operatorSchemas.set(schema, tables);
  const { onQuery } = options;
  let closed = false;

  /** Runs one call's work, telling `onQuery` about it as the SQL adapters do for each query. */
  const runCounted = <T>(operation: string, work: () => T): T => {
    let failed = true;
    try {
      const result = work();
      failed = false;
      return result;
    } finally {
      onQuery?.({ sql: `memory: ${operation}`, durationMs: 0, failed });
    }
  };
  const root: MemoryContext = {
    tables,
    clock: deps.clock,
    run: (operation, work) => {
      if (closed) return Promise.reject(closedError(operation));
      return tables.lock.immediate(() => runCounted(operation, work));
    },
  };

  return {
    schema,
    // Nothing to migrate: the tables are created in their current shape.
    migrations: { applied: [], alreadyApplied: [] },
    ...createMemoryOperatorRepositories(root),
    transaction(work) {
      if (closed) return Promise.reject(closedError('transaction'));
      return tables.lock.exclusive(async () => {
        let open = true;
        const tx: MemoryContext = {
          tables,
          clock: deps.clock,
          run: async (operation, call) => {
            if (!open)
              throw new StoreQueryError(
                operation,
                'its transaction has ended',
                undefined,
                undefined,
              );
            return runCounted(operation, call);
          },
        };
        const undo: (() => void)[] = [];
        tables.undo.current = undo;
        try {
          const result = await work(createMemoryOperatorRepositories(tx));
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

function closedError(operation: string): StoreUnavailableError {
  return new StoreUnavailableError(operation, 'the store is closed', undefined);
}
