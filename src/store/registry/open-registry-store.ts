import type { DB } from '../generated/registry-db.ts';
import type { Migration } from '../migrate.ts';
import {
  type OpenStoreOptions,
  openStoreDatabase,
  runCallerTransaction,
  type StoreDeps,
} from '../open-store-database.ts';
import type { QueryContext } from '../query-context.ts';
import type { StoreDriver } from '../store-driver.ts';
import { applyEpochAdvance } from './apply-epoch-advance.ts';
import { createAvsTaskResponsesRepository } from './avs-task-responses.ts';
import { createChainCursorsRepository } from './chain-cursors.ts';
import { completeTask } from './complete-task.ts';
import { createEpochOperatorsRepository } from './epoch-operators.ts';
import { createEpochStatesRepository } from './epoch-states.ts';
import { createOperatorFactsRepository } from './operator-facts.ts';
import { createOperatorTaskResponsesRepository } from './operator-task-responses.ts';
import { createOperatorsRepository } from './operators.ts';
import { createQueueRepository } from './queue-jobs.ts';
import { createRegistryEventsRepository } from './registry-events.ts';
import type { RegistryRepositories, RegistryStore } from './registry-store.ts';
import { createRegistryTasksRepository } from './tasks.ts';

/**
 * Opens a registry store in `options.schema` (migrating it first). Adapters call this with their
 * driver; node code receives the resulting RegistryStore.
 */
export async function openRegistryStore(
  deps: StoreDeps & { driver: StoreDriver; migrations: readonly Migration[] },
  options: OpenStoreOptions,
): Promise<RegistryStore> {
  const database = await openStoreDatabase<DB>(
    'registry',
    deps.driver,
    deps.migrations,
    options,
    deps,
  );
  return {
    schema: database.schema,
    migrations: database.migrations,
    ...createRegistryRepositories(database.root),
    transaction: (work) => runCallerTransaction(database.root, createRegistryRepositories, work),
    close: () => database.kysely.destroy(),
  };
}

function createRegistryRepositories(context: QueryContext<DB>): RegistryRepositories {
  return {
    operators: createOperatorsRepository(context),
    epochStates: createEpochStatesRepository(context),
    epochOperators: createEpochOperatorsRepository(context),
    registryEvents: createRegistryEventsRepository(context),
    tasks: createRegistryTasksRepository(context),
    operatorResponses: createOperatorTaskResponsesRepository(context),
    avsResponses: createAvsTaskResponsesRepository(context),
    operatorFacts: createOperatorFactsRepository(context),
    cursors: createChainCursorsRepository(context),
    queue: createQueueRepository(context),
    applyEpochAdvance: (advance) => applyEpochAdvance(context, advance),
    completeTask: (completion) => completeTask(context, completion),
  };
}
