import type { Hex } from 'viem';
import type { TaskStatus } from '../../core/task-status.ts';
import type { Clock } from '../../ports/clock.ts';
import {
  checkSameTask,
  checkTask,
  checkTaskListByStatus,
  checkTaskListExpired,
  newTaskColumns,
  type TaskInput,
  type TaskRow,
} from '../../store/task-fields.ts';
import { inputChecks } from '../../store/validate.ts';
import type { JournaledMap } from './journaled-map.ts';

/** `ORDER BY` a timestamp column. */
export const byTime = (a: Date, b: Date) => a.getTime() - b.getTime();

/** `ORDER BY` a lowercase hex (or other ASCII) column. */
export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The `tasks` methods the registry's and an operator's stores share, over records of `Rec`. */
export interface MemoryTaskMethods<Rec> {
  create(task: TaskInput): Promise<{ task: Rec; created: boolean }>;
  get(taskId: Hex): Promise<Rec | undefined>;
  listByStatus(status: TaskStatus, options: { limit: number }): Promise<Rec[]>;
  listExpired(options: { nowMs: number; limit: number }): Promise<Rec[]>;
}

/** What the shared methods run on: a memory `tasks` table, the clock and the call runner. */
export interface MemoryTasksContext<Row extends TaskRow> {
  readonly tables: { readonly tasks: JournaledMap<string, Row> };
  readonly clock: Pick<Clock, 'now'>;
  run<T>(operation: string, work: () => T): Promise<T>;
}

/**
 * `create`, `get`, `listByStatus` and `listExpired` over a memory `tasks` table: the registry's
 * and the operator's memory stores hold tasks alike and differ only in their row's extra columns
 * (`newRow` adds them) and record (`toRecord`), so both take these one copy of the methods.
 */
export function memoryTaskMethods<Row extends TaskRow, Rec>(
  context: MemoryTasksContext<Row>,
  toRecord: (row: Row) => Rec,
  newRow: (columns: TaskRow) => Row,
): MemoryTaskMethods<Rec> {
  const { tables, clock, run } = context;
  return {
    async create(task) {
      const operation = 'tasks.create';
      const checked = checkTask(inputChecks(operation), task);
      return run(operation, () => {
        const stored = tables.tasks.get(checked.taskId);
        if (stored) {
          checkSameTask(operation, stored, checked);
          return { task: toRecord(stored), created: false };
        }
        const row = newRow(newTaskColumns(checked, new Date(clock.now())));
        tables.tasks.set(checked.taskId, row);
        return { task: toRecord(row), created: true };
      });
    },

    async get(taskId) {
      const operation = 'tasks.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return run(operation, () => {
        const row = tables.tasks.get(key);
        return row ? toRecord(row) : undefined;
      });
    },

    async listByStatus(status, options) {
      const operation = 'tasks.listByStatus';
      const { requested, limit } = checkTaskListByStatus(operation, status, options);
      return run(operation, () =>
        [...tables.tasks.values()]
          .filter((row) => row.status === requested)
          .sort((a, b) => byTime(a.created_at, b.created_at) || byText(a.task_id, b.task_id))
          .slice(0, limit)
          .map(toRecord),
      );
    },

    async listExpired(options) {
      const operation = 'tasks.listExpired';
      const { nowMs, limit } = checkTaskListExpired(operation, options);
      return run(operation, () =>
        [...tables.tasks.values()]
          .filter((row) => row.status === 'pending' && row.expires_at.getTime() <= nowMs)
          .sort((a, b) => byTime(a.expires_at, b.expires_at) || byText(a.task_id, b.task_id))
          .slice(0, limit)
          .map(toRecord),
      );
    },
  };
}
