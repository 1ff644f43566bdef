import type { Selectable } from 'kysely';
import {
  ForeignKeyViolationError,
  StoreNotFoundError,
  StoreQueryError,
} from '../../store/errors.ts';
import type { OperatorTaskResponses, Tasks } from '../../store/generated/registry-db.ts';
import {
  type AvsTaskResponseRecord,
  type AvsTaskResponsesRepository,
  toAvsTaskResponseRecord,
} from '../../store/registry/avs-task-responses.ts';
import {
  checkSignedWeight,
  checkSignersInSnapshot,
  checkSignersSigned,
  checkTaskCompletion,
  type TaskCompletion,
  type TaskCompletionResult,
} from '../../store/registry/complete-task.ts';
import {
  checkOperatorResponse,
  checkOperatorResponseBatch,
  checkResponseKey,
  type OperatorTaskResponsesRepository,
  toOperatorResponseRecord,
  vanishedResponse,
} from '../../store/registry/operator-task-responses.ts';
import {
  checkSetStatus,
  type RegistryTasksRepository,
  setStatusOfEnded,
  taskFinalError,
  toRegistryTaskRecord,
} from '../../store/registry/tasks.ts';
import { msAsDate } from '../../store/stored-values.ts';
import { checkStatusChange } from '../../store/task-fields.ts';
import { inputChecks } from '../../store/validate.ts';
import { sumMemorySnapshotWeights } from './memory-registry-epochs.ts';
import {
  deriveMemoryOperatorCounters,
  insertMemoryOperatorFacts,
} from './memory-registry-operators.ts';
import {
  type MemoryRegistryContext,
  type MemoryRegistryTables,
  taskOperatorKey,
} from './memory-registry-tables.ts';
import { byText, memoryTaskMethods } from './memory-tasks.ts';

type TaskRow = Selectable<Tasks>;
type AnswerRow = Selectable<OperatorTaskResponses>;
/** An answer row as the checks return it, before the insert gives it an id. */
type CheckedAnswer = Omit<AnswerRow, 'id'>;

/** The registry's `tasks` table (store/registry/tasks.ts) over the memory tables. */
export function createMemoryRegistryTasksRepository(
  context: MemoryRegistryContext,
): RegistryTasksRepository {
  const { tables, clock, run } = context;
  const now = () => new Date(clock.now());

  return {
    ...memoryTaskMethods(context, toRegistryTaskRecord, (columns) => ({ ...columns, retries: 0 })),

    async setStatus(taskId, status) {
      const operation = 'tasks.setStatus';
      const { key, requested } = checkSetStatus(operation, taskId, status);
      return run(operation, () => {
        const stored = tables.tasks.get(key);
        if (!stored) throw new StoreNotFoundError(operation, 'task', key);
        if (stored.status === 'pending') {
          const row: TaskRow = { ...stored, status: requested, updated_at: now() };
          tables.tasks.set(key, row);
          return { task: toRegistryTaskRecord(row), changed: true };
        }
        return setStatusOfEnded(operation, key, stored, requested);
      });
    },

    async recordRetry(taskId) {
      const operation = 'tasks.recordRetry';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return run(operation, () => {
        const stored = tables.tasks.get(key);
        if (!stored) throw new StoreNotFoundError(operation, 'task', key);
        if (stored.status !== 'pending') {
          throw taskFinalError(operation, key, stored.status);
        }
        const row: TaskRow = { ...stored, retries: stored.retries + 1, updated_at: now() };
        tables.tasks.set(key, row);
        return toRegistryTaskRecord(row);
      });
    },
  };
}

/** Operators' answers (store/registry/operator-task-responses.ts) over the memory tables. */
export function createMemoryOperatorTaskResponsesRepository(
  context: MemoryRegistryContext,
): OperatorTaskResponsesRepository {
  const { tables, run } = context;

  return {
    async record(response) {
      const operation = 'operatorResponses.record';
      const answer = checkOperatorResponse(operation, response);
      return run(operation, () => {
        const inserted = insertAnswer(tables, answer);
        if (!inserted) {
          const stored = storedAnswer(tables, answer.task_id, answer.operator_address);
          return { response: toOperatorResponseRecord(stored), recorded: false };
        }
        checkAnswerReferences(tables, operation, inserted);
        return { response: toOperatorResponseRecord(inserted), recorded: true };
      });
    },

    async recordMany(responses) {
      const operation = 'operatorResponses.recordMany';
      const answers = checkOperatorResponseBatch(operation, responses);
      if (answers.length === 0) return { recorded: 0 };
      return run(operation, () => {
        // As the one SQL statement does: every row inserted in order (a later answer of the same
        // operator meets the earlier one and is skipped), then the foreign keys checked.
        const inserted = answers.flatMap((answer) => insertAnswer(tables, answer) ?? []);
        for (const row of inserted) checkAnswerReferences(tables, operation, row);
        return { recorded: inserted.length };
      });
    },

    async get(taskId, operatorAddress) {
      const operation = 'operatorResponses.get';
      const { task, operator } = checkResponseKey(operation, taskId, operatorAddress);
      return run(operation, () => {
        const row = tables.operatorTaskResponses.get(taskOperatorKey(task, operator));
        return row ? toOperatorResponseRecord(row) : undefined;
      });
    },

    async listByTask(taskId) {
      const operation = 'operatorResponses.listByTask';
      const task = inputChecks(operation).bytes32('taskId', taskId);
      return run(operation, () =>
        rowsOfTask(tables, tables.operatorTaskResponses, task).map(toOperatorResponseRecord),
      );
    },
  };
}

/** Proofs (store/registry/avs-task-responses.ts) over the memory tables. */
export function createMemoryAvsTaskResponsesRepository(
  context: MemoryRegistryContext,
): AvsTaskResponsesRepository {
  const { tables, run } = context;
  return {
    async get(taskId) {
      const operation = 'avsResponses.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return run(operation, () => readProof(tables, key));
    },
  };
}

/**
 * `completeTask` (store/registry/complete-task.ts) over the memory tables: the same checks and
 * refusals in the same order, then the proof, its signers, the completed task and the signers'
 * `succeeded` facts and counters, all in one atomic call.
 */
export async function completeMemoryTask(
  context: MemoryRegistryContext,
  completion: TaskCompletion,
): Promise<TaskCompletionResult> {
  const { tables, clock, run } = context;
  const operation = 'completeTask';
  const { taskId, signers, signatureData, respondedAtMs } = checkTaskCompletion(
    operation,
    completion,
  );

  return run(operation, () => {
    const task = tables.tasks.get(taskId);
    if (!task) throw new StoreNotFoundError(operation, 'task', taskId);
    const record = toRegistryTaskRecord(task);
    if (checkStatusChange(operation, taskId, record.status, 'completed') === 'unchanged') {
      const stored = readProof(tables, taskId);
      if (!stored) throw new StoreNotFoundError(operation, 'proof of completed task', taskId);
      return { completed: false, task: record, response: stored };
    }

    checkSignersSigned(
      operation,
      taskId,
      signers.filter(
        (signer) =>
          tables.operatorTaskResponses.get(taskOperatorKey(taskId, signer))?.outcome !== 'signed',
      ),
    );

    const weight = sumMemorySnapshotWeights(tables, task.epoch, signers);
    checkSignersInSnapshot(operation, taskId, signers.length, task.epoch, weight);
    const epochState = tables.epochStates.get(task.epoch);
    // Unreachable while the snapshot's rows reference their epoch (a foreign key); SQL's
    // executeTakeFirstOrThrow would fail the same way.
    if (!epochState) throw new StoreQueryError(operation, 'no result', undefined, undefined);
    checkSignedWeight(operation, taskId, task.epoch, weight, epochState.threshold_weight);

    const nowMs = clock.now();
    tables.avsTaskResponses.set(taskId, {
      task_id: taskId,
      epoch: task.epoch,
      signature_data: signatureData,
      signed_weight: weight.totalWeightWei,
      responded_at: msAsDate(respondedAtMs),
    });
    for (const signer of signers) {
      tables.avsTaskResponseSigners.set(taskOperatorKey(taskId, signer), {
        task_id: taskId,
        operator_address: signer,
      });
    }
    const completed: TaskRow = { ...task, status: 'completed', updated_at: new Date(nowMs) };
    tables.tasks.set(taskId, completed);
    // Successes are replicated facts keyed by (task, operator); the counters derive from them.
    insertMemoryOperatorFacts(
      tables,
      nowMs,
      signers.map((operator) => ({ kind: 'succeeded' as const, operator, taskId })),
    );
    deriveMemoryOperatorCounters(tables, nowMs, signers, undefined);
    const response = readProof(tables, taskId);
    if (!response) throw new StoreNotFoundError(operation, 'proof', taskId);
    return { completed: true, task: toRegistryTaskRecord(completed), response };
  });
}

/**
 * Inserts an answer unless its operator already answered the task (SQL's ON CONFLICT DO NOTHING);
 * returns the stored row, or undefined when skipped. As in Postgres, every attempt draws an id.
 */
function insertAnswer(tables: MemoryRegistryTables, answer: CheckedAnswer): AnswerRow | undefined {
  const id = tables.sequences.operatorTaskResponseId;
  tables.sequences.operatorTaskResponseId += 1;
  const key = taskOperatorKey(answer.task_id, answer.operator_address);
  if (tables.operatorTaskResponses.get(key)) return undefined;
  const row: AnswerRow = { id, ...answer };
  tables.operatorTaskResponses.set(key, row);
  return row;
}

function storedAnswer(tables: MemoryRegistryTables, taskId: string, operator: string): AnswerRow {
  const row = tables.operatorTaskResponses.get(taskOperatorKey(taskId, operator));
  if (!row) throw vanishedResponse(taskId, operator);
  return row;
}

/**
 * The foreign keys of an inserted answer, in the order Postgres checks them: its operator, then
 * its task at that epoch. Throwing undoes the call's inserts.
 */
function checkAnswerReferences(
  tables: MemoryRegistryTables,
  operation: string,
  row: AnswerRow,
): void {
  if (!tables.operators.get(row.operator_address)) {
    throw foreignKeyViolation(
      operation,
      'operator_task_responses_operator_address_fkey',
      `Key (operator_address)=(${row.operator_address}) is not present in table "operators".`,
    );
  }
  if (tables.tasks.get(row.task_id)?.epoch !== row.epoch) {
    throw foreignKeyViolation(
      operation,
      'operator_task_responses_task_fk',
      `Key (task_id, epoch)=(${row.task_id}, ${row.epoch}) is not present in table "tasks".`,
    );
  }
}

/** What Postgres reports when an answer references a row that is not stored. */
function foreignKeyViolation(
  operation: string,
  constraint: string,
  detail: string,
): ForeignKeyViolationError {
  return new ForeignKeyViolationError(
    operation,
    {
      constraint,
      table: 'operator_task_responses',
      column: undefined,
      dataType: undefined,
      detail,
    },
    undefined,
  );
}

/**
 * A task's rows of a table keyed by `taskOperatorKey`, ascending by operator address. Every such
 * row names a stored operator (foreign keys; operators are never deleted), so they are looked up
 * by key from the few operators instead of scanning every task's rows.
 */
function rowsOfTask<Row>(
  tables: MemoryRegistryTables,
  table: { get(key: string): Row | undefined },
  taskId: string,
): Row[] {
  return [...tables.operators.values()]
    .map((operator) => operator.address)
    .sort(byText)
    .flatMap((operator) => table.get(taskOperatorKey(taskId, operator)) ?? []);
}

/** A task's proof with its signers' signatures (from their answers), or undefined. */
function readProof(
  tables: MemoryRegistryTables,
  taskId: string,
): AvsTaskResponseRecord | undefined {
  const proof = tables.avsTaskResponses.get(taskId);
  if (!proof) return undefined;
  const signers = rowsOfTask(tables, tables.avsTaskResponseSigners, taskId).map((signer) => ({
    operator_address: signer.operator_address,
    signature: storedAnswer(tables, taskId, signer.operator_address).signature,
  }));
  return toAvsTaskResponseRecord(proof, signers);
}
