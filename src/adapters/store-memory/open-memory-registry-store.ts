import type { OpenStoreOptions } from '../../store/open-store-database.ts';
import type { RegistryRepositories, RegistryStore } from '../../store/registry/registry-store.ts';
import {
  applyMemoryEpochAdvance,
  createMemoryEpochOperatorsRepository,
  createMemoryEpochStatesRepository,
} from './memory-registry-epochs.ts';
import {
  createMemoryChainCursorsRepository,
  createMemoryRegistryEventsRepository,
} from './memory-registry-events.ts';
import {
  createMemoryOperatorFactsRepository,
  createMemoryOperatorsRepository,
} from './memory-registry-operators.ts';
import { createMemoryQueueRepository } from './memory-registry-queue.ts';
import {
  createMemoryRegistryTables,
  type MemoryRegistryContext,
} from './memory-registry-tables.ts';
import {
  completeMemoryTask,
  createMemoryAvsTaskResponsesRepository,
  createMemoryOperatorTaskResponsesRepository,
  createMemoryRegistryTasksRepository,
} from './memory-registry-tasks.ts';
import { openNamedMemoryStore } from './memory-store-shell.ts';
import type { MemoryStoreDeps } from './open-memory-store.ts';

/**
 * Opens (creating if new) the registry store named `options.schema` in a memory database: the
 * registry's SQL contract (the registry sections of the store compliance suite) over in-process
 * tables. For the simulator and tests; nothing outlives the process.
 */
export async function openMemoryRegistryStore(
  deps: MemoryStoreDeps,
  options: OpenStoreOptions,
): Promise<RegistryStore> {
  return openNamedMemoryStore({
    kind: 'registry',
    schemas: deps.database.registrySchemas,
    createTables: createMemoryRegistryTables,
    clock: deps.clock,
    options,
    createRepositories: createMemoryRegistryRepositories,
  });
}

function createMemoryRegistryRepositories(context: MemoryRegistryContext): RegistryRepositories {
  return {
    operators: createMemoryOperatorsRepository(context),
    epochStates: createMemoryEpochStatesRepository(context),
    epochOperators: createMemoryEpochOperatorsRepository(context),
    registryEvents: createMemoryRegistryEventsRepository(context),
    tasks: createMemoryRegistryTasksRepository(context),
    operatorResponses: createMemoryOperatorTaskResponsesRepository(context),
    avsResponses: createMemoryAvsTaskResponsesRepository(context),
    operatorFacts: createMemoryOperatorFactsRepository(context),
    cursors: createMemoryChainCursorsRepository(context),
    queue: createMemoryQueueRepository(context),
    applyEpochAdvance: (advance) => applyMemoryEpochAdvance(context, advance),
    completeTask: (completion) => completeMemoryTask(context, completion),
  };
}
