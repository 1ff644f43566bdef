import { readMigrationFiles } from '../../store/adapters/read-migration-files.ts';
import type { OpenStoreOptions, StoreDeps } from '../../store/open-store-database.ts';
import { openOperatorStore } from '../../store/operator/open-operator-store.ts';
import type { OperatorStore } from '../../store/operator/operator-store.ts';
import { openRegistryStore } from '../../store/registry/open-registry-store.ts';
import type { RegistryStore } from '../../store/registry/registry-store.ts';
import { createPostgresStoreDriver } from './postgres-store-driver.ts';
import type { PostgresStorePool } from './postgres-store-pool.ts';

export interface PostgresStoreDeps extends StoreDeps {
  /** From createPostgresStorePool; the caller ends it after closing the stores. */
  pool: PostgresStorePool;
}

export async function openPostgresRegistryStore(
  deps: PostgresStoreDeps,
  options: OpenStoreOptions,
): Promise<RegistryStore> {
  return openRegistryStore(
    {
      clock: deps.clock,
      driver: createPostgresStoreDriver(deps.pool),
      migrations: await readMigrationFiles('registry'),
    },
    options,
  );
}

export async function openPostgresOperatorStore(
  deps: PostgresStoreDeps,
  options: OpenStoreOptions,
): Promise<OperatorStore> {
  return openOperatorStore(
    {
      clock: deps.clock,
      driver: createPostgresStoreDriver(deps.pool),
      migrations: await readMigrationFiles('operator'),
    },
    options,
  );
}
