import type { Selectable } from 'kysely';
import type {
  CurrentEpochState,
  LocalOperator,
  PeerCache,
  TaskResponses,
  Tasks,
} from '../../store/generated/operator-db.ts';
import { JournaledMap, type UndoLog } from './journaled-map.ts';
import { StoreLock } from './store-lock.ts';

/** The only key of a single-row table. */
export const SINGLE_ROW = 'row';

/**
 * One operator's tables, in the row shapes of the SQL schema (so the SQL adapters' record
 * conversions apply unchanged), with the lock and undo log every store opened on them shares.
 */
export interface MemoryOperatorTables {
  readonly lock: StoreLock;
  readonly undo: UndoLog;
  readonly localOperator: JournaledMap<typeof SINGLE_ROW, Selectable<LocalOperator>>;
  readonly currentEpochState: JournaledMap<typeof SINGLE_ROW, CurrentEpochState>;
  /** By task id. */
  readonly tasks: JournaledMap<string, Tasks>;
  /** By task id: one answer per task. */
  readonly taskResponses: JournaledMap<string, Selectable<TaskResponses>>;
  /** By peer id. */
  readonly peerCache: JournaledMap<string, Selectable<PeerCache>>;
  /** Like BIGSERIAL: ids are never reused, not even after a rollback. */
  nextResponseId: number;
}

export function createMemoryOperatorTables(): MemoryOperatorTables {
  const undo: UndoLog = { current: undefined };
  return {
    lock: new StoreLock(),
    undo,
    localOperator: new JournaledMap(undo),
    currentEpochState: new JournaledMap(undo),
    tasks: new JournaledMap(undo),
    taskResponses: new JournaledMap(undo),
    peerCache: new JournaledMap(undo),
    nextResponseId: 1,
  };
}
