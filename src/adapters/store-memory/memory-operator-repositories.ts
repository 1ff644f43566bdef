import {
  checkEpochState,
  epochStateColumns,
  toEpochStateRecord,
} from '../../store/epoch-state-fields.ts';
import { ForeignKeyViolationError, StoreNotFoundError } from '../../store/errors.ts';
import {
  checkLocalOperator,
  checkSameLocalOperator,
  toLocalOperatorRecord,
} from '../../store/operator/local-operator.ts';
import type { OperatorRepositories } from '../../store/operator/operator-store.ts';
import {
  checkPeerList,
  checkPeerListOptions,
  MAX_PEER_ID_LENGTH,
  type PeerRecord,
  peerColumns,
  toPeerRecord,
} from '../../store/operator/peer-cache.ts';
import { checkTaskResponse, toTaskResponseRecord } from '../../store/operator/task-responses.ts';
import { msAsDate } from '../../store/stored-values.ts';
import { checkStatusChange, type TaskRow, toTaskRecord } from '../../store/task-fields.ts';
import { inputChecks } from '../../store/validate.ts';
import { type MemoryOperatorTables, SINGLE_ROW } from './memory-operator-tables.ts';
import type { MemoryContextOf } from './memory-store-shell.ts';
import { byText, byTime, memoryTaskMethods } from './memory-tasks.ts';

/** What the operator repositories run on. */
export type MemoryContext = MemoryContextOf<MemoryOperatorTables>;

/**
 * The operator repositories over in-memory tables: the same contract as the SQL ones (the same
 * argument checks and errors, the same idempotency and ordering), checked by the same compliance
 * suite. Rows are kept in their SQL shapes and converted by the SQL adapters' own functions.
 */
export function createMemoryOperatorRepositories(context: MemoryContext): OperatorRepositories {
  const { tables, clock, run } = context;
  const now = () => new Date(clock.now());
  /** Records share nothing with the stored rows: callers may mutate what they get. */
  const peerRecord = (row: Parameters<typeof toPeerRecord>[0]): PeerRecord => ({
    ...toPeerRecord(row),
    addresses: [...row.addresses],
  });

  return {
    localOperator: {
      async get() {
        return run('localOperator.get', () => {
          const row = tables.localOperator.get(SINGLE_ROW);
          return row ? toLocalOperatorRecord(row) : undefined;
        });
      },
      async put(operator) {
        const operation = 'localOperator.put';
        const { address, values } = checkLocalOperator(operation, operator);
        return run(operation, () => {
          const stored = tables.localOperator.get(SINGLE_ROW);
          if (stored) checkSameLocalOperator(operation, stored.address, address);
          const row = { address, ...values, last_updated_at: now() };
          tables.localOperator.set(SINGLE_ROW, row);
          return toLocalOperatorRecord(row);
        });
      },
    },

    currentEpochState: {
      async get() {
        return run('currentEpochState.get', () => {
          const row = tables.currentEpochState.get(SINGLE_ROW);
          return row ? toEpochStateRecord(row) : undefined;
        });
      },
      async put(state) {
        const operation = 'currentEpochState.put';
        const checked = checkEpochState(inputChecks(operation), '', state);
        return run(operation, () => {
          const stored = tables.currentEpochState.get(SINGLE_ROW);
          if (stored && stored.epoch_number > checked.epoch) {
            return { applied: false, state: toEpochStateRecord(stored) };
          }
          const row = epochStateColumns(checked, now());
          tables.currentEpochState.set(SINGLE_ROW, row);
          return { applied: true, state: toEpochStateRecord(row) };
        });
      },
    },

    tasks: {
      ...memoryTaskMethods(context, toTaskRecord, (columns) => columns),
      async setStatus(taskId, status) {
        const operation = 'tasks.setStatus';
        const checks = inputChecks(operation);
        const key = checks.bytes32('taskId', taskId);
        const requested = checks.taskStatus('status', status);
        return run(operation, () => {
          const stored = tables.tasks.get(key);
          if (!stored) throw new StoreNotFoundError(operation, 'task', key);
          const current = toTaskRecord(stored);
          if (checkStatusChange(operation, key, current.status, requested) === 'unchanged') {
            return { task: current, changed: false };
          }
          const row: TaskRow = { ...stored, status: requested, updated_at: now() };
          tables.tasks.set(key, row);
          return { task: toTaskRecord(row), changed: true };
        });
      },
      async deleteCreatedBefore(beforeMs) {
        const operation = 'tasks.deleteCreatedBefore';
        const cutoff = inputChecks(operation).timestampMs('beforeMs', beforeMs);
        return run(operation, () => {
          const old = [...tables.tasks.values()].filter((row) => row.created_at.getTime() < cutoff);
          for (const row of old) {
            tables.tasks.delete(row.task_id);
            // ON DELETE CASCADE.
            tables.taskResponses.delete(row.task_id);
          }
          return old.length;
        });
      },
    },

    taskResponses: {
      async record(response) {
        const operation = 'taskResponses.record';
        const { taskId, submittedAtMs, answer } = checkTaskResponse(operation, response);
        return run(operation, () => {
          const stored = tables.taskResponses.get(taskId);
          if (stored) return { response: toTaskResponseRecord(stored), recorded: false };
          if (!tables.tasks.get(taskId)) throw unknownTask(operation, taskId);
          const row = {
            id: tables.nextResponseId,
            task_id: taskId,
            ...answer,
            submitted_at: msAsDate(submittedAtMs),
          };
          tables.nextResponseId += 1;
          tables.taskResponses.set(taskId, row);
          return { response: toTaskResponseRecord(row), recorded: true };
        });
      },
      async get(taskId) {
        const operation = 'taskResponses.get';
        const key = inputChecks(operation).bytes32('taskId', taskId);
        return run(operation, () => {
          const row = tables.taskResponses.get(key);
          return row ? toTaskResponseRecord(row) : undefined;
        });
      },
    },

    peerCache: {
      async upsert(peer) {
        const operation = 'peerCache.upsert';
        const row = peerColumns(inputChecks(operation), peer, '');
        return run(operation, () => {
          tables.peerCache.set(row.peer_id, row);
          return peerRecord(row);
        });
      },
      async upsertMany(peers) {
        const operation = 'peerCache.upsertMany';
        const rows = checkPeerList(operation, peers);
        if (rows.length === 0) return [];
        return run(operation, () =>
          rows.map((row) => {
            tables.peerCache.set(row.peer_id, row);
            return peerRecord(row);
          }),
        );
      },
      async get(peerId) {
        const operation = 'peerCache.get';
        const key = inputChecks(operation).text('peerId', peerId, MAX_PEER_ID_LENGTH);
        return run(operation, () => {
          const row = tables.peerCache.get(key);
          return row ? peerRecord(row) : undefined;
        });
      },
      async list(options) {
        const operation = 'peerCache.list';
        const { limit, status } = checkPeerListOptions(operation, options);
        return run(operation, () =>
          [...tables.peerCache.values()]
            .filter((row) => status === undefined || row.status === status)
            .sort((a, b) => byTime(b.last_seen_at, a.last_seen_at) || byText(a.peer_id, b.peer_id))
            .slice(0, limit)
            .map(peerRecord),
        );
      },
      async remove(peerId) {
        const operation = 'peerCache.remove';
        const key = inputChecks(operation).text('peerId', peerId, MAX_PEER_ID_LENGTH);
        return run(operation, () => tables.peerCache.delete(key));
      },
      async pruneLastSeenBefore(beforeMs) {
        const operation = 'peerCache.pruneLastSeenBefore';
        const cutoff = inputChecks(operation).timestampMs('beforeMs', beforeMs);
        return run(operation, () => {
          const old = [...tables.peerCache.values()].filter(
            (row) => row.last_seen_at.getTime() < cutoff,
          );
          for (const row of old) tables.peerCache.delete(row.peer_id);
          return old.length;
        });
      },
    },
  };
}

/** What Postgres reports for a response whose task is not stored (the FK of task_responses). */
function unknownTask(operation: string, taskId: string): ForeignKeyViolationError {
  return new ForeignKeyViolationError(
    operation,
    {
      constraint: 'task_responses_task_id_fkey',
      table: 'task_responses',
      column: undefined,
      dataType: undefined,
      detail: `Key (task_id)=(${taskId}) is not present in table "tasks".`,
    },
    undefined,
  );
}
