import type { DB } from '../generated/operator-db.ts';
import type { Migration } from '../migrate.ts';
import {
  type OpenStoreOptions,
  openStoreDatabase,
  runCallerTransaction,
  type StoreDeps,
} from '../open-store-database.ts';
import type { QueryContext } from '../query-context.ts';
import type { StoreDriver } from '../store-driver.ts';
import { createCurrentEpochStateRepository } from './current-epoch-state.ts';
import { createLocalOperatorRepository } from './local-operator.ts';
import type { OperatorRepositories, OperatorStore } from './operator-store.ts';
import { createPeerCacheRepository } from './peer-cache.ts';
import { createTaskResponsesRepository } from './task-responses.ts';
import { createOperatorTasksRepository } from './tasks.ts';

/** Opens an operator store in `options.schema` (migrating it first). */
export async function openOperatorStore(
  deps: StoreDeps & { driver: StoreDriver; migrations: readonly Migration[] },
  options: OpenStoreOptions,
): Promise<OperatorStore> {
  const database = await openStoreDatabase<DB>(
    'operator',
    deps.driver,
    deps.migrations,
    options,
    deps,
  );
  return {
    schema: database.schema,
    migrations: database.migrations,
    ...createOperatorRepositories(database.root),
    transaction: (work) => runCallerTransaction(database.root, createOperatorRepositories, work),
    close: () => database.kysely.destroy(),
  };
}

function createOperatorRepositories(context: QueryContext<DB>): OperatorRepositories {
  return {
    localOperator: createLocalOperatorRepository(context),
    currentEpochState: createCurrentEpochStateRepository(context),
    tasks: createOperatorTasksRepository(context),
    taskResponses: createTaskResponsesRepository(context),
    peerCache: createPeerCacheRepository(context),
  };
}
