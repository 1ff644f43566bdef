import { PGlite } from '@electric-sql/pglite';
import { readMigrationFiles } from '../../store/adapters/read-migration-files.ts';
import type { OpenStoreOptions, StoreDeps } from '../../store/open-store-database.ts';
import { openOperatorStore } from '../../store/operator/open-operator-store.ts';
import type { OperatorStore } from '../../store/operator/operator-store.ts';
import { openRegistryStore } from '../../store/registry/open-registry-store.ts';
import type { RegistryStore } from '../../store/registry/registry-store.ts';
import { createPgliteStoreDriver } from './pglite-store-driver.ts';

/**
 * Embedded Postgres (PGlite) for the stores. One instance can hold many stores, each in its own
 * schema: the simulator runs every node on one instance. The caller owns the instance and closes
 * it after the stores.
 */
export async function createPglite(options: { dataDir?: string } = {}): Promise<PGlite> {
  return options.dataDir === undefined ? PGlite.create() : PGlite.create(options.dataDir);
}

export interface PgliteStoreDeps extends StoreDeps {
  pglite: PGlite;
}

export async function openPgliteRegistryStore(
  deps: PgliteStoreDeps,
  options: OpenStoreOptions,
): Promise<RegistryStore> {
  return openRegistryStore(
    {
      clock: deps.clock,
      driver: createPgliteStoreDriver(deps.pglite),
      migrations: await readMigrationFiles('registry'),
    },
    options,
  );
}

export async function openPgliteOperatorStore(
  deps: PgliteStoreDeps,
  options: OpenStoreOptions,
): Promise<OperatorStore> {
  return openOperatorStore(
    {
      clock: deps.clock,
      driver: createPgliteStoreDriver(deps.pglite),
      migrations: await readMigrationFiles('operator'),
    },
    options,
  );
}
