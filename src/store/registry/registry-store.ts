import type { MigrationReport } from '../migrate.ts';
import type { EpochAdvance, EpochAdvanceResult } from './apply-epoch-advance.ts';
import type { AvsTaskResponsesRepository } from './avs-task-responses.ts';
import type { ChainCursorsRepository } from './chain-cursors.ts';
import type { TaskCompletion, TaskCompletionResult } from './complete-task.ts';
import type { EpochOperatorsRepository } from './epoch-operators.ts';
import type { EpochStatesRepository } from './epoch-states.ts';
import type { OperatorFactsRepository } from './operator-facts.ts';
import type { OperatorTaskResponsesRepository } from './operator-task-responses.ts';
import type { OperatorsRepository } from './operators.ts';
import type { QueueRepository } from './queue-jobs.ts';
import type { RegistryEventsRepository } from './registry-events.ts';
import type { RegistryTasksRepository } from './tasks.ts';

/**
 * The registry node's Store port (SPEC §4, §6). Node code depends on this interface only; the
 * PGlite and Postgres adapters both implement it, checked by one compliance suite.
 *
 * Every method validates its arguments before querying (StoreInputError naming the field) and
 * reports database failures as typed StoreErrors. Addresses are accepted in any valid form and
 * returned EIP-55 checksummed; uint256 values are bigint and round-trip exactly.
 */
export interface RegistryRepositories {
  readonly operators: OperatorsRepository;
  readonly epochStates: EpochStatesRepository;
  readonly epochOperators: EpochOperatorsRepository;
  readonly registryEvents: RegistryEventsRepository;
  readonly tasks: RegistryTasksRepository;
  readonly operatorResponses: OperatorTaskResponsesRepository;
  readonly avsResponses: AvsTaskResponsesRepository;
  /** Replicated off-chain facts (misses, successes, unsuspends) the counters derive from. */
  readonly operatorFacts: OperatorFactsRepository;
  /** Event-watcher cursors per (chain id, stream). */
  readonly cursors: ChainCursorsRepository;
  /** The durable job queue (SPEC §3 "Bridge queue"): accepted tasks and their deliveries. */
  readonly queue: QueueRepository;
  /** Epoch state, operator changes and snapshot in one transaction; idempotent per epoch. */
  applyEpochAdvance(advance: EpochAdvance): Promise<EpochAdvanceResult>;
  /** Proof, task status and success counters in one transaction; at most once per task. */
  completeTask(completion: TaskCompletion): Promise<TaskCompletionResult>;
}

export interface RegistryStore extends RegistryRepositories {
  /** The Postgres schema holding this store's tables. */
  readonly schema: string;
  /** What opening the store migrated. */
  readonly migrations: MigrationReport;
  /**
   * Runs `work` in one transaction: its writes commit together, or none do when it throws (the
   * error is rethrown as is). Inside, use only `tx` — on PGlite the store's own methods wait for
   * the transaction to end — and keep it short: no network calls while it is open.
   */
  transaction<T>(work: (tx: RegistryRepositories) => Promise<T>): Promise<T>;
  /** Releases this store's handle; a database shared with other stores stays open. */
  close(): Promise<void>;
}
