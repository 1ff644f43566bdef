import type { Selectable } from 'kysely';
import type { Hex } from 'viem';
import type { DB, TaskResponses } from '../generated/operator-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate, storedHex, storedMs } from '../stored-values.ts';
import { checkTaskAnswer, type TaskAnswer, toTaskAnswer } from '../task-answer.ts';
import { inputChecks } from '../validate.ts';

/** This operator's answer to a task it received. */
export type TaskResponseInput = { taskId: Hex; submittedAtMs: number } & TaskAnswer;

export type TaskResponseRecord = { id: number; taskId: Hex; submittedAtMs: number } & TaskAnswer;

export interface TaskResponsesRepository {
  /**
   * Stores the answer. An operator answers a task once: if an answer is stored already,
   * `recorded` is false and `response` is the stored one — re-send that, never a new decision.
   */
  record(response: TaskResponseInput): Promise<{ response: TaskResponseRecord; recorded: boolean }>;
  get(taskId: Hex): Promise<TaskResponseRecord | undefined>;
}

export function toTaskResponseRecord(row: Selectable<TaskResponses>): TaskResponseRecord {
  return {
    id: row.id,
    taskId: storedHex(row.task_id),
    submittedAtMs: storedMs(row.submitted_at),
    ...toTaskAnswer(row),
  };
}

export function checkTaskResponse(operation: string, response: TaskResponseInput) {
  const checks = inputChecks(operation);
  checks.require(
    typeof response === 'object' && response !== null,
    'response',
    'expected an object',
  );
  return {
    taskId: checks.bytes32('taskId', response.taskId),
    submittedAtMs: checks.timestampMs('submittedAtMs', response.submittedAtMs),
    answer: checkTaskAnswer(checks, response),
  };
}

export function createTaskResponsesRepository(context: QueryContext<DB>): TaskResponsesRepository {
  const selectResponse = (taskId: string) =>
    context.db
      .selectFrom('task_responses')
      .selectAll()
      .where('task_id', '=', taskId)
      .executeTakeFirst();

  return {
    async record(response) {
      const operation = 'taskResponses.record';
      const { taskId, submittedAtMs, answer } = checkTaskResponse(operation, response);
      return runQuery(operation, async () => {
        const inserted = await context.db
          .insertInto('task_responses')
          .values({ task_id: taskId, ...answer, submitted_at: msAsDate(submittedAtMs) })
          .onConflict((conflict) => conflict.column('task_id').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { response: toTaskResponseRecord(inserted), recorded: true };
        const stored = await selectResponse(taskId);
        if (!stored) throw new Error(`response to ${taskId} vanished`);
        return { response: toTaskResponseRecord(stored), recorded: false };
      });
    },

    async get(taskId) {
      const operation = 'taskResponses.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, async () => {
        const row = await selectResponse(key);
        return row ? toTaskResponseRecord(row) : undefined;
      });
    },
  };
}
