import type { MigrationReport } from '../migrate.ts';
import type { CurrentEpochStateRepository } from './current-epoch-state.ts';
import type { LocalOperatorRepository } from './local-operator.ts';
import type { PeerCacheRepository } from './peer-cache.ts';
import type { TaskResponsesRepository } from './task-responses.ts';
import type { OperatorTasksRepository } from './tasks.ts';

/**
 * The operator node's Store port (SPEC §4, §6): only what one operator keeps locally. Same
 * conventions as the registry store: arguments validated before any query, typed errors,
 * checksummed addresses out, exact bigints.
 */
export interface OperatorRepositories {
  readonly localOperator: LocalOperatorRepository;
  readonly currentEpochState: CurrentEpochStateRepository;
  readonly tasks: OperatorTasksRepository;
  readonly taskResponses: TaskResponsesRepository;
  readonly peerCache: PeerCacheRepository;
}

export interface OperatorStore extends OperatorRepositories {
  readonly schema: string;
  readonly migrations: MigrationReport;
  /** As RegistryStore.transaction: all or nothing; use only `tx` inside; keep it short. */
  transaction<T>(work: (tx: OperatorRepositories) => Promise<T>): Promise<T>;
  /** Releases this store's handle; a database shared with other stores stays open. */
  close(): Promise<void>;
}
