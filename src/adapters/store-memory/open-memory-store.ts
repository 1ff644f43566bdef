import type { OpenStoreOptions, StoreDeps } from '../../store/open-store-database.ts';
import type { OperatorStore } from '../../store/operator/operator-store.ts';
import { createMemoryOperatorRepositories } from './memory-operator-repositories.ts';
import { createMemoryOperatorTables, type MemoryOperatorTables } from './memory-operator-tables.ts';
import type { MemoryRegistryTables } from './memory-registry-tables.ts';
import { openNamedMemoryStore } from './memory-store-shell.ts';

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
  return openNamedMemoryStore({
    kind: 'operator',
    schemas: deps.database.operatorSchemas,
    createTables: createMemoryOperatorTables,
    clock: deps.clock,
    options,
    createRepositories: createMemoryOperatorRepositories,
  });
}
