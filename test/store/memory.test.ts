import {
  createMemoryStoreDatabase,
  openMemoryOperatorStore,
} from '../../src/adapters/store-memory/open-memory-store.ts';
import { describeOperatorStoreCompliance } from './operator-compliance.ts';

/** One memory database for the whole suite, every store under its own name — as in the simulator. */
describeOperatorStoreCompliance('memory', async () => {
  const database = createMemoryStoreDatabase();
  return {
    openOperatorStore: (deps, options) => openMemoryOperatorStore({ ...deps, database }, options),
    close: async () => {},
  };
});
