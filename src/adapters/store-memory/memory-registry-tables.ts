import type { Selectable } from 'kysely';
import type {
  AvsTaskResponseSigners,
  AvsTaskResponses,
  ChainCursors,
  EpochOperators,
  EpochStates,
  OperatorFactCounts,
  OperatorFacts,
  Operators,
  OperatorTaskResponses,
  QueueJobEvents,
  QueueJobs,
  RegistryEvents,
  Tasks,
} from '../../store/generated/registry-db.ts';
import { JournaledMap, type UndoLog } from './journaled-map.ts';
import type { MemoryContextOf, MemoryTablesBase } from './memory-store-shell.ts';
import { StoreLock } from './store-lock.ts';

/**
 * One registry's tables, in the row shapes of the SQL schema (`store/generated/registry-db.ts`,
 * so the SQL repositories' record conversions and checks apply unchanged), keyed by their
 * primary keys as stored (addresses and hex in the stored lowercase form). Every write goes
 * through a JournaledMap, so a failed call or transaction is undone.
 */
export interface MemoryRegistryTables extends MemoryTablesBase {
  /** By address. */
  readonly operators: JournaledMap<string, Selectable<Operators>>;
  /** By epoch number. */
  readonly epochStates: JournaledMap<number, Selectable<EpochStates>>;
  /** By `epochOperatorKey(epoch, address)`. */
  readonly epochOperators: JournaledMap<string, Selectable<EpochOperators>>;
  /** By id. */
  readonly registryEvents: JournaledMap<number, Selectable<RegistryEvents>>;
  /** `registry_events_chain_log_unique`: `block_hash/log_index` → the event's id. */
  readonly registryEventIdByChainLog: JournaledMap<string, number>;
  /** By `cursorKey(chainId, stream)`. */
  readonly chainCursors: JournaledMap<string, Selectable<ChainCursors>>;
  /** By task id. */
  readonly tasks: JournaledMap<string, Selectable<Tasks>>;
  /** By `taskOperatorKey(taskId, address)` (one answer per operator and task). */
  readonly operatorTaskResponses: JournaledMap<string, Selectable<OperatorTaskResponses>>;
  /** By task id. */
  readonly avsTaskResponses: JournaledMap<string, Selectable<AvsTaskResponses>>;
  /** By `taskOperatorKey(taskId, address)`. */
  readonly avsTaskResponseSigners: JournaledMap<string, AvsTaskResponseSigners>;
  /** By seq. */
  readonly operatorFacts: JournaledMap<number, Selectable<OperatorFacts>>;
  /** The unique constraints of `operator_facts`: a fact's natural key → its seq. */
  readonly operatorFactSeqByKey: JournaledMap<string, number>;
  /** By address. */
  readonly operatorFactCounts: JournaledMap<string, Selectable<OperatorFactCounts>>;
  /** By id. */
  readonly queueJobs: JournaledMap<number, Selectable<QueueJobs>>;
  /** `queue_jobs_key_unique (queue, idempotency_key)`: `queueJobKey(…)` → the job's id. */
  readonly queueJobIdByKey: JournaledMap<string, number>;
  /** By id. */
  readonly queueJobEvents: JournaledMap<number, Selectable<QueueJobEvents>>;
  /**
   * The next value of each BIGSERIAL column. Like SQL sequences they never go back, not even
   * after a rollback (ids are never reused).
   */
  readonly sequences: {
    registryEventId: number;
    operatorTaskResponseId: number;
    operatorFactSeq: number;
    queueJobId: number;
    queueJobEventId: number;
  };
}

/** What the registry repositories run on. */
export type MemoryRegistryContext = MemoryContextOf<MemoryRegistryTables>;

export const epochOperatorKey = (epoch: number, address: string): string => `${epoch}/${address}`;
export const cursorKey = (chainId: number, stream: string): string => `${chainId}/${stream}`;
export const queueJobKey = (queue: string, idempotencyKey: string): string =>
  `${queue}/${idempotencyKey}`;
export const taskOperatorKey = (taskId: string, address: string): string => `${taskId}/${address}`;

export function createMemoryRegistryTables(): MemoryRegistryTables {
  const undo: UndoLog = { current: undefined };
  return {
    lock: new StoreLock(),
    undo,
    operators: new JournaledMap(undo),
    epochStates: new JournaledMap(undo),
    epochOperators: new JournaledMap(undo),
    registryEvents: new JournaledMap(undo),
    registryEventIdByChainLog: new JournaledMap(undo),
    chainCursors: new JournaledMap(undo),
    tasks: new JournaledMap(undo),
    operatorTaskResponses: new JournaledMap(undo),
    avsTaskResponses: new JournaledMap(undo),
    avsTaskResponseSigners: new JournaledMap(undo),
    operatorFacts: new JournaledMap(undo),
    operatorFactSeqByKey: new JournaledMap(undo),
    operatorFactCounts: new JournaledMap(undo),
    queueJobs: new JournaledMap(undo),
    queueJobIdByKey: new JournaledMap(undo),
    queueJobEvents: new JournaledMap(undo),
    sequences: {
      registryEventId: 1,
      operatorTaskResponseId: 1,
      operatorFactSeq: 1,
      queueJobId: 1,
      queueJobEventId: 1,
    },
  };
}
