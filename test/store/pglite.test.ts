import {
  createPglite,
  openPgliteOperatorStore,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import { createPgliteStoreDriver } from '../../src/adapters/store-pglite/pglite-store-driver.ts';
import { describeStoreCompliance } from './compliance.ts';

/** One in-memory PGlite for the whole suite, every store in its own schema — as in the simulator. */
describeStoreCompliance('PGlite', async () => {
  const pglite = await createPglite();
  return {
    openRegistryStore: (deps, options) => openPgliteRegistryStore({ ...deps, pglite }, options),
    openOperatorStore: (deps, options) => openPgliteOperatorStore({ ...deps, pglite }, options),
    driver: createPgliteStoreDriver(pglite),
    rawQuery: async <Row>(sql: string) => (await pglite.query<Row>(sql)).rows,
    close: () => pglite.close(),
  };
});
