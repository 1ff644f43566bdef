import type { Selectable } from 'kysely';
import type { Hex } from 'viem';
import type { TaskStatus } from '../../core/task-status.ts';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB, Tasks } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import {
  checkSameTask,
  checkStatusChange,
  checkTask,
  checkTaskListByStatus,
  checkTaskListExpired,
  newTaskColumns,
  type TaskInput,
  type TaskRecord,
  toTaskRecord,
} from '../task-fields.ts';
import { type InputChecks, inputChecks } from '../validate.ts';

export interface RegistryTaskRecord extends TaskRecord {
  /** Rounds re-run with refusers and non-responders excluded (SPEC §3: at most 3). */
  retries: number;
}

/** The ways a task ends other than completing; completion goes through `completeTask`. */
export type TaskFailureStatus = Extract<TaskStatus, 'failed' | 'expired'>;

export interface RegistryTasksRepository {
  /**
   * Stores a new pending task. The same task id again is idempotent (`created: false`, the stored
   * task returned) when its fields match, and a StoreConflictError when they do not.
   */
  create(task: TaskInput): Promise<{ task: RegistryTaskRecord; created: boolean }>;
  get(taskId: Hex): Promise<RegistryTaskRecord | undefined>;
  /**
   * Ends a pending task as failed or expired. Setting the status it already has is a no-op
   * (`changed: false`); a task that already ended otherwise is a StoreConflictError.
   */
  setStatus(
    taskId: Hex,
    status: TaskFailureStatus,
  ): Promise<{ task: RegistryTaskRecord; changed: boolean }>;
  /** `retries += 1` on a pending task. */
  recordRetry(taskId: Hex): Promise<RegistryTaskRecord>;
  /** Oldest first. */
  listByStatus(status: TaskStatus, options: { limit: number }): Promise<RegistryTaskRecord[]>;
  /** Pending tasks whose deadline is at or before `nowMs`, earliest deadline first. */
  listExpired(options: { nowMs: number; limit: number }): Promise<RegistryTaskRecord[]>;
}

export function toRegistryTaskRecord(row: Selectable<Tasks>): RegistryTaskRecord {
  return { ...toTaskRecord(row), retries: row.retries };
}

/** The status `setStatus` may set (shared with the memory adapter). */
export function checkTaskFailureStatus(checks: InputChecks, status: unknown): TaskFailureStatus {
  checks.require(
    status !== 'completed',
    'status',
    'a task completes through completeTask, which also stores its proof',
  );
  return checks.oneOf<TaskFailureStatus>('status', status, ['failed', 'expired']);
}

/** `setStatus`'s arguments checked: the task's key and the final status asked for. */
export function checkSetStatus(operation: string, taskId: Hex, status: TaskFailureStatus) {
  const checks = inputChecks(operation);
  const key = checks.bytes32('taskId', taskId);
  const requested = checkTaskFailureStatus(checks, status);
  return { key, requested };
}

/** The refusal of a retry of a task that already ended (shared with the memory adapter). */
export function taskFinalError(
  operation: string,
  taskId: string,
  status: string,
): StoreConflictError {
  return new StoreConflictError(
    operation,
    'TASK_FINAL',
    `task ${taskId} already ended as ${status}`,
  );
}

/**
 * `setStatus` on a task that is no longer pending: a no-op when it already has the status asked
 * for, refused (TASK_FINAL) otherwise. Shared with the memory adapter.
 */
export function setStatusOfEnded(
  operation: string,
  key: string,
  stored: Selectable<Tasks>,
  requested: TaskFailureStatus,
): { task: RegistryTaskRecord; changed: false } {
  const record = toRegistryTaskRecord(stored);
  checkStatusChange(operation, key, record.status, requested);
  return { task: record, changed: false };
}

export function createRegistryTasksRepository(context: QueryContext<DB>): RegistryTasksRepository {
  const selectTask = (db: QueryContext<DB>['db'], taskId: string) =>
    db.selectFrom('tasks').selectAll().where('task_id', '=', taskId).executeTakeFirst();

  return {
    async create(task) {
      const operation = 'tasks.create';
      const checked = checkTask(inputChecks(operation), task);
      return runQuery(operation, async () => {
        const inserted = await context.db
          .insertInto('tasks')
          .values(newTaskColumns(checked, nowAsDate(context.clock)))
          .onConflict((conflict) => conflict.column('task_id').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { task: toRegistryTaskRecord(inserted), created: true };
        const stored = await selectTask(context.db, checked.taskId);
        if (!stored) throw new StoreNotFoundError(operation, 'task', checked.taskId);
        checkSameTask(operation, stored, checked);
        return { task: toRegistryTaskRecord(stored), created: false };
      });
    },

    async get(taskId) {
      const operation = 'tasks.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, async () => {
        const row = await selectTask(context.db, key);
        return row ? toRegistryTaskRecord(row) : undefined;
      });
    },

    async setStatus(taskId, status) {
      const operation = 'tasks.setStatus';
      const { key, requested } = checkSetStatus(operation, taskId, status);
      return runQuery(operation, async () => {
        const updated = await context.db
          .updateTable('tasks')
          .set({ status: requested, updated_at: nowAsDate(context.clock) })
          .where('task_id', '=', key)
          .where('status', '=', 'pending')
          .returningAll()
          .executeTakeFirst();
        if (updated) return { task: toRegistryTaskRecord(updated), changed: true };
        const stored = await selectTask(context.db, key);
        if (!stored) throw new StoreNotFoundError(operation, 'task', key);
        return setStatusOfEnded(operation, key, stored, requested);
      });
    },

    async recordRetry(taskId) {
      const operation = 'tasks.recordRetry';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, async () => {
        const updated = await context.db
          .updateTable('tasks')
          .set((eb) => ({ retries: eb('retries', '+', 1), updated_at: nowAsDate(context.clock) }))
          .where('task_id', '=', key)
          .where('status', '=', 'pending')
          .returningAll()
          .executeTakeFirst();
        if (updated) return toRegistryTaskRecord(updated);
        const stored = await selectTask(context.db, key);
        if (!stored) throw new StoreNotFoundError(operation, 'task', key);
        throw taskFinalError(operation, key, stored.status);
      });
    },

    async listByStatus(status, options) {
      const operation = 'tasks.listByStatus';
      const { requested, limit } = checkTaskListByStatus(operation, status, options);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('tasks')
          .selectAll()
          .where('status', '=', requested)
          .orderBy('created_at')
          .orderBy('task_id')
          .limit(limit)
          .execute();
        return rows.map(toRegistryTaskRecord);
      });
    },

    async listExpired(options) {
      const operation = 'tasks.listExpired';
      const { nowMs, limit } = checkTaskListExpired(operation, options);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('tasks')
          .selectAll()
          .where('status', '=', 'pending')
          .where('expires_at', '<=', new Date(nowMs))
          .orderBy('expires_at')
          .orderBy('task_id')
          .limit(limit)
          .execute();
        return rows.map(toRegistryTaskRecord);
      });
    },
  };
}
