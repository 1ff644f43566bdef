import { openMemoryRegistryStore } from '../../src/adapters/store-memory/open-memory-registry-store.ts';
import {
  createMemoryStoreDatabase,
  openMemoryOperatorStore,
} from '../../src/adapters/store-memory/open-memory-store.ts';
import { describeStoreCompliance } from './compliance.ts';

/**
 * One memory database for the whole suite, every store under its own name — as in the simulator.
 * The SQL-only sections (migrations, domain checks, raw SQL against constraints) do not apply.
 */
describeStoreCompliance(
  'memory',
  async () => {
    const database = createMemoryStoreDatabase();
    const noSql = () => {
      throw new Error('the memory store has no SQL');
    };
    return {
      openRegistryStore: (deps, options) => openMemoryRegistryStore({ ...deps, database }, options),
      openOperatorStore: (deps, options) => openMemoryOperatorStore({ ...deps, database }, options),
      get driver() {
        return noSql();
      },
      rawQuery: async () => noSql(),
      close: async () => {},
    };
  },
  { sql: false },
);
