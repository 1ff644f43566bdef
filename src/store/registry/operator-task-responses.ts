import type { Selectable } from 'kysely';
import type { Address, Hex } from 'viem';
import type { DB, OperatorTaskResponses } from '../generated/registry-db.ts';
import { orderedJsonRecordset } from '../json-recordset.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate, storedAddress, storedHex, storedMs } from '../stored-values.ts';
import { checkTaskAnswer, type TaskAnswer, toTaskAnswer } from '../task-answer.ts';
import { type InputChecks, inputChecks, MAX_LIST_LIMIT } from '../validate.ts';

/** One operator's answer to a task, as the aggregator received it. */
export type OperatorResponseInput = {
  taskId: Hex;
  operatorAddress: Address;
  /** The task's epoch; a response for another epoch is rejected by a foreign key. */
  epoch: number;
  submittedAtMs: number;
} & TaskAnswer;

export type OperatorResponseRecord = {
  id: number;
  taskId: Hex;
  operatorAddress: Address;
  epoch: number;
  submittedAtMs: number;
} & TaskAnswer;

export interface OperatorTaskResponsesRepository {
  /**
   * Stores the operator's first answer to the task. A later answer from the same operator is not
   * stored: `recorded` is false and `response` is the first one (compare them to spot an operator
   * that equivocates).
   */
  record(
    response: OperatorResponseInput,
  ): Promise<{ response: OperatorResponseRecord; recorded: boolean }>;
  /**
   * Stores many answers in one statement (the aggregator writes a task's buffered answers at
   * once). As with `record`, only an operator's first answer to a task is kept, earlier in the
   * list first; `recorded` counts the answers stored now. An empty list writes nothing.
   */
  recordMany(responses: readonly OperatorResponseInput[]): Promise<{ recorded: number }>;
  get(taskId: Hex, operatorAddress: Address): Promise<OperatorResponseRecord | undefined>;
  /** Ascending by operator address as a number. */
  listByTask(taskId: Hex): Promise<OperatorResponseRecord[]>;
}

export function toOperatorResponseRecord(
  row: Selectable<OperatorTaskResponses>,
): OperatorResponseRecord {
  return {
    id: row.id,
    taskId: storedHex(row.task_id),
    operatorAddress: storedAddress(row.operator_address),
    epoch: row.epoch,
    submittedAtMs: storedMs(row.submitted_at),
    ...toTaskAnswer(row),
  };
}

const RESPONSE_COLUMNS = [
  'task_id',
  'operator_address',
  'epoch',
  'outcome',
  'signature',
  'refusal_reason',
  'submitted_at',
] as const;

/** The row of one answer, its fields checked (`field` prefixes the names in messages). */
function responseRow(checks: InputChecks, response: unknown, field: string) {
  checks.require(typeof response === 'object' && response !== null, field, 'expected an object');
  const input = response as OperatorResponseInput;
  const at = (name: string) => (field === 'response' ? name : `${field}.${name}`);
  return {
    task_id: checks.bytes32(at('taskId'), input.taskId),
    operator_address: checks.address(at('operatorAddress'), input.operatorAddress),
    epoch: checks.uint32(at('epoch'), input.epoch),
    ...checkTaskAnswer(checks, input),
    submitted_at: msAsDate(checks.timestampMs(at('submittedAtMs'), input.submittedAtMs)),
  };
}

/** The row `record` stores, its fields checked (shared with the memory adapter). */
export function checkOperatorResponse(operation: string, response: OperatorResponseInput) {
  const checks = inputChecks(operation);
  checks.require(
    typeof response === 'object' && response !== null,
    'response',
    'expected an object',
  );
  const taskId = checks.bytes32('taskId', response.taskId);
  const operatorAddress = checks.address('operatorAddress', response.operatorAddress);
  const epoch = checks.uint32('epoch', response.epoch);
  const submittedAtMs = checks.timestampMs('submittedAtMs', response.submittedAtMs);
  const answer = checkTaskAnswer(checks, response);
  return {
    task_id: taskId,
    operator_address: operatorAddress,
    epoch,
    ...answer,
    submitted_at: msAsDate(submittedAtMs),
  };
}

/**
 * The rows `recordMany` inserts, their fields checked, in insertion order (shared with the memory
 * adapter).
 */
export function checkOperatorResponseBatch(
  operation: string,
  responses: readonly OperatorResponseInput[],
) {
  const checks = inputChecks(operation);
  return (
    checks
      .array('responses', responses, MAX_LIST_LIMIT)
      .map((response, index) => responseRow(checks, response, `responses[${index}]`))
      // Ascending by operator (stable, so an operator's first answer stays first): the foreign
      // key locks the operators' rows in the order completeTask and recordMiss lock them, so a
      // batch and a concurrent completion cannot deadlock.
      .sort((a, b) =>
        a.operator_address < b.operator_address
          ? -1
          : a.operator_address > b.operator_address
            ? 1
            : 0,
      )
  );
}

/** `get`'s arguments checked: the task's and the operator's keys (shared with the memory adapter). */
export function checkResponseKey(operation: string, taskId: Hex, operatorAddress: Address) {
  const checks = inputChecks(operation);
  const task = checks.bytes32('taskId', taskId);
  const operator = checks.address('operatorAddress', operatorAddress);
  return { task, operator };
}

/**
 * The error for an answer that a skipped insert said was stored and then was not found: a bug or
 * a deleted row, never a caller's mistake (shared with the memory adapter).
 */
export function vanishedResponse(taskId: string, operatorAddress: string): Error {
  return new Error(`response of ${operatorAddress} to ${taskId} vanished`);
}

export function createOperatorTaskResponsesRepository(
  context: QueryContext<DB>,
): OperatorTaskResponsesRepository {
  const selectResponse = (taskId: string, operatorAddress: string) =>
    context.db
      .selectFrom('operator_task_responses')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('operator_address', '=', operatorAddress)
      .executeTakeFirst();

  return {
    async record(response) {
      const operation = 'operatorResponses.record';
      const row = checkOperatorResponse(operation, response);
      const { task_id: taskId, operator_address: operatorAddress } = row;
      return runQuery(operation, async () => {
        const inserted = await context.db
          .insertInto('operator_task_responses')
          .values(row)
          .onConflict((conflict) => conflict.columns(['task_id', 'operator_address']).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { response: toOperatorResponseRecord(inserted), recorded: true };
        const stored = await selectResponse(taskId, operatorAddress);
        if (!stored) throw vanishedResponse(taskId, operatorAddress);
        return { response: toOperatorResponseRecord(stored), recorded: false };
      });
    },

    async recordMany(responses) {
      const operation = 'operatorResponses.recordMany';
      const rows = checkOperatorResponseBatch(operation, responses);
      if (rows.length === 0) return { recorded: 0 };
      return runQuery(operation, async () => {
        // The rows travel as one JSON parameter: the same SQL text (one prepared statement) for
        // any number of answers, and no per-value parameter encoding.
        const inserted = await context.db
          .insertInto('operator_task_responses')
          .columns([...RESPONSE_COLUMNS])
          .expression((eb) =>
            eb
              .selectFrom(
                orderedJsonRecordset(
                  rows.map((row) => ({ ...row, submitted_at: row.submitted_at.toISOString() })),
                  'task_id text, operator_address text, epoch bigint, outcome text, signature text, refusal_reason text, submitted_at timestamptz',
                ),
              )
              .select(RESPONSE_COLUMNS.map((column) => `v.${column}` as const))
              // Inserted (and the foreign keys' operator locks taken) in the sorted order above.
              .orderBy('v.ordinal'),
          )
          .onConflict((conflict) => conflict.columns(['task_id', 'operator_address']).doNothing())
          .returning('id')
          .execute();
        return { recorded: inserted.length };
      });
    },

    async get(taskId, operatorAddress) {
      const operation = 'operatorResponses.get';
      const { task, operator } = checkResponseKey(operation, taskId, operatorAddress);
      return runQuery(operation, async () => {
        const row = await selectResponse(task, operator);
        return row ? toOperatorResponseRecord(row) : undefined;
      });
    },

    async listByTask(taskId) {
      const operation = 'operatorResponses.listByTask';
      const task = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('operator_task_responses')
          .selectAll()
          .where('task_id', '=', task)
          .orderBy('operator_address')
          .execute();
        return rows.map(toOperatorResponseRecord);
      });
    },
  };
}
