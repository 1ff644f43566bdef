import type { OpenStoreOptions, StoreDeps } from '../../store/open-store-database.ts';
import type { OperatorStore } from '../../store/operator/operator-store.ts';
import { checkSchemaName } from '../../store/schema-name.ts';
import { createMemoryOperatorRepositories } from './memory-operator-repositories.ts';
import { createMemoryOperatorTables, type MemoryOperatorTables } from './memory-operator-tables.ts';
import type { MemoryRegistryTables } from './memory-registry-tables.ts';
import { openMemoryStoreShell } from './memory-store-shell.ts';

/**
 * An in-process database for stores: each schema name holds one store's tables (operator and
 * registry names apart), and opening the same name again finds them as they were (a node
 * restarting over its data). Nothing outlives the process. The simulator keeps its nodes' stores
 * here instead of in PGlite, where every call costs a round trip through an embedded Postgres.
 */
export interface MemoryStoreDatabase {
  readonly operatorSchemas: Map<string, MemoryOperatorTables>;
  readonly registrySchemas: Map<string, MemoryRegistryTables>;
}

export function createMemoryStoreDatabase(): MemoryStoreDatabase {
  return { operatorSchemas: new Map(), registrySchemas: new Map() };
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
  const shell = openMemoryStoreShell({
    tables,
    clock: deps.clock,
    onQuery: options.onQuery,
    createRepositories: createMemoryOperatorRepositories,
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
