import type { Hex } from 'viem';
import type { TaskStatus } from '../../core/task-status.ts';
import { StoreNotFoundError } from '../errors.ts';
import type { DB } from '../generated/operator-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import {
  checkSameTask,
  checkStatusChange,
  checkTask,
  newTaskColumns,
  type TaskInput,
  type TaskRecord,
  toTaskRecord,
} from '../task-fields.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../validate.ts';

export interface OperatorTasksRepository {
  /**
   * Stores a received task as pending. The same task id again is idempotent (`created: false`)
   * when its fields match, a StoreConflictError when they do not.
   */
  create(task: TaskInput): Promise<{ task: TaskRecord; created: boolean }>;
  get(taskId: Hex): Promise<TaskRecord | undefined>;
  /**
   * Moves a pending task to its final status. The status it already has is a no-op
   * (`changed: false`); a task that already ended otherwise is a StoreConflictError.
   */
  setStatus(taskId: Hex, status: TaskStatus): Promise<{ task: TaskRecord; changed: boolean }>;
  /** Oldest first. */
  listByStatus(status: TaskStatus, options: { limit: number }): Promise<TaskRecord[]>;
  /** Pending tasks whose deadline is at or before `nowMs`, earliest deadline first. */
  listExpired(options: { nowMs: number; limit: number }): Promise<TaskRecord[]>;
  /** Deletes tasks (and their responses) created before `beforeMs`; returns how many. */
  deleteCreatedBefore(beforeMs: number): Promise<number>;
}

export function createOperatorTasksRepository(context: QueryContext<DB>): OperatorTasksRepository {
  const selectTask = (taskId: string) =>
    context.db.selectFrom('tasks').selectAll().where('task_id', '=', taskId).executeTakeFirst();

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
        if (inserted) return { task: toTaskRecord(inserted), created: true };
        const stored = await selectTask(checked.taskId);
        if (!stored) throw new StoreNotFoundError(operation, 'task', checked.taskId);
        checkSameTask(operation, stored, checked);
        return { task: toTaskRecord(stored), created: false };
      });
    },

    async get(taskId) {
      const operation = 'tasks.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, async () => {
        const row = await selectTask(key);
        return row ? toTaskRecord(row) : undefined;
      });
    },

    async setStatus(taskId, status) {
      const operation = 'tasks.setStatus';
      const checks = inputChecks(operation);
      const key = checks.bytes32('taskId', taskId);
      const requested = checks.taskStatus('status', status);
      return runQuery(operation, async () => {
        if (requested !== 'pending') {
          const updated = await context.db
            .updateTable('tasks')
            .set({ status: requested, updated_at: nowAsDate(context.clock) })
            .where('task_id', '=', key)
            .where('status', '=', 'pending')
            .returningAll()
            .executeTakeFirst();
          if (updated) return { task: toTaskRecord(updated), changed: true };
        }
        const stored = await selectTask(key);
        if (!stored) throw new StoreNotFoundError(operation, 'task', key);
        const record = toTaskRecord(stored);
        checkStatusChange(operation, key, record.status, requested);
        return { task: record, changed: false };
      });
    },

    async listByStatus(status, options) {
      const operation = 'tasks.listByStatus';
      const checks = inputChecks(operation);
      const requested = checks.taskStatus('status', status);
      const limit = checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('tasks')
          .selectAll()
          .where('status', '=', requested)
          .orderBy('created_at')
          .orderBy('task_id')
          .limit(limit)
          .execute();
        return rows.map(toTaskRecord);
      });
    },

    async listExpired(options) {
      const operation = 'tasks.listExpired';
      const checks = inputChecks(operation);
      const nowMs = checks.timestampMs('nowMs', options?.nowMs);
      const limit = checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT);
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
        return rows.map(toTaskRecord);
      });
    },

    async deleteCreatedBefore(beforeMs) {
      const operation = 'tasks.deleteCreatedBefore';
      const cutoff = inputChecks(operation).timestampMs('beforeMs', beforeMs);
      return runQuery(operation, async () => {
        const result = await context.db
          .deleteFrom('tasks')
          .where('created_at', '<', new Date(cutoff))
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
  };
}
