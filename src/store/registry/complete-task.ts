import { sql } from 'kysely';
import type { Address, Hex } from 'viem';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB } from '../generated/registry-db.ts';
import { orderedJsonRecordset } from '../json-recordset.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate } from '../stored-values.ts';
import { checkStatusChange } from '../task-fields.ts';
import { inputChecks, MAX_LIST_LIMIT, MAX_SIGNATURE_DATA_BYTES } from '../validate.ts';
import { type AvsTaskResponseRecord, selectAvsTaskResponse } from './avs-task-responses.ts';
import { sumSnapshotWeights, type WeightSum } from './epoch-operators.ts';
import { deriveOperatorCounters } from './operator-counters.ts';
import { insertOperatorFacts } from './operator-facts.ts';
import { type RegistryTaskRecord, toRegistryTaskRecord } from './tasks.ts';

/** The proof the aggregator assembled for a task. */
export interface TaskCompletion {
  taskId: Hex;
  /** Operators whose signatures the proof holds, strictly ascending as numbers. */
  signers: readonly Address[];
  /** `abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch)`. */
  signatureData: Hex;
  respondedAtMs: number;
}

export interface TaskCompletionResult {
  /** False when the task was already completed: nothing was written, `response` is the stored proof. */
  completed: boolean;
  task: RegistryTaskRecord;
  response: AvsTaskResponseRecord;
}

/** A completion's fields checked, in stored form (shared with the memory adapter). */
export function checkTaskCompletion(operation: string, completion: TaskCompletion) {
  const checks = inputChecks(operation);
  checks.require(
    typeof completion === 'object' && completion !== null,
    'completion',
    'expected an object',
  );
  const taskId = checks.bytes32('taskId', completion.taskId);
  const signers = checks
    .array('signers', completion.signers, MAX_LIST_LIMIT)
    .map((signer, index) => checks.address(`signers[${index}]`, signer));
  checks.require(signers.length > 0, 'signers', 'a proof needs at least one signer');
  signers.forEach((signer, index) => {
    const previous = signers[index - 1];
    checks.require(
      previous === undefined || previous < signer,
      `signers[${index}]`,
      'signers must be strictly ascending by address as a number (no duplicates)',
    );
  });
  const signatureData = checks.hexBytes(
    'signatureData',
    completion.signatureData,
    MAX_SIGNATURE_DATA_BYTES,
  );
  const respondedAtMs = checks.timestampMs('respondedAtMs', completion.respondedAtMs);
  return { taskId, signers, signatureData, respondedAtMs };
}

/**
 * Refuses a completion naming signers without a stored signed response (`unsigned`), as SQL and
 * the memory adapter both must.
 */
export function checkSignersSigned(
  operation: string,
  taskId: string,
  unsigned: readonly string[],
): void {
  if (unsigned.length > 0) {
    throw new StoreConflictError(
      operation,
      'SIGNER_INVALID',
      `task ${taskId}: no signed response stored from ${unsigned.join(', ')}`,
    );
  }
}

/** Refuses a completion whose signers are not all in the snapshot of the task's epoch. */
export function checkSignersInSnapshot(
  operation: string,
  taskId: string,
  signerCount: number,
  epoch: number,
  weight: WeightSum,
): void {
  if (weight.operatorCount !== signerCount) {
    throw new StoreConflictError(
      operation,
      'SIGNER_INVALID',
      `task ${taskId}: ${signerCount - weight.operatorCount} signer(s) are not in the snapshot of epoch ${epoch}`,
    );
  }
}

/** Refuses a completion whose signed weight is below the epoch's threshold. */
export function checkSignedWeight(
  operation: string,
  taskId: string,
  epoch: number,
  weight: WeightSum,
  thresholdWeight: bigint,
): void {
  if (weight.totalWeightWei < thresholdWeight) {
    throw new StoreConflictError(
      operation,
      'BELOW_THRESHOLD',
      `task ${taskId}: signed weight ${weight.totalWeightWei} is below the threshold ${thresholdWeight} of epoch ${epoch}`,
    );
  }
}

/**
 * Completes a task in one transaction: stores the proof, marks the task completed and counts a
 * successful response for every signer — at most once per task, so a crash and retry never
 * counts twice. Refused (StoreConflictError) unless every signer's signed response is stored,
 * every signer is in the epoch's snapshot, and their summed weight (computed in SQL) reaches the
 * epoch's threshold: the store never holds a proof below threshold.
 */
export async function completeTask(
  context: QueryContext<DB>,
  completion: TaskCompletion,
): Promise<TaskCompletionResult> {
  const operation = 'completeTask';
  const { taskId, signers, signatureData, respondedAtMs } = checkTaskCompletion(
    operation,
    completion,
  );

  return runQuery(operation, () =>
    context.transaction(async (tx) => {
      const task = await tx.db
        .selectFrom('tasks')
        .selectAll()
        .where('task_id', '=', taskId)
        .forUpdate()
        .executeTakeFirst();
      if (!task) throw new StoreNotFoundError(operation, 'task', taskId);
      const record = toRegistryTaskRecord(task);
      if (checkStatusChange(operation, taskId, record.status, 'completed') === 'unchanged') {
        const stored = await selectAvsTaskResponse(tx, taskId);
        if (!stored) throw new StoreNotFoundError(operation, 'proof of completed task', taskId);
        return { completed: false, task: record, response: stored };
      }

      const answers = await tx.db
        .selectFrom('operator_task_responses')
        .select(['operator_address', 'outcome'])
        .where('task_id', '=', taskId)
        .where('operator_address', 'in', signers)
        .execute();
      const signed = new Set(
        answers.filter((a) => a.outcome === 'signed').map((a) => a.operator_address),
      );
      checkSignersSigned(
        operation,
        taskId,
        signers.filter((signer) => !signed.has(signer)),
      );

      const weight = await sumSnapshotWeights(tx, task.epoch, signers);
      checkSignersInSnapshot(operation, taskId, signers.length, task.epoch, weight);
      const epochState = await tx.db
        .selectFrom('epoch_states')
        .select('threshold_weight')
        .where('epoch_number', '=', task.epoch)
        .executeTakeFirstOrThrow();
      checkSignedWeight(operation, taskId, task.epoch, weight, epochState.threshold_weight);

      const now = nowAsDate(tx.clock);
      await tx.db
        .insertInto('avs_task_responses')
        .values({
          task_id: taskId,
          epoch: task.epoch,
          signature_data: signatureData,
          signed_weight: weight.totalWeightWei,
          responded_at: msAsDate(respondedAtMs),
        })
        .execute();
      // One JSON parameter: the same statement for any number of signers.
      await tx.db
        .insertInto('avs_task_response_signers')
        .columns(['task_id', 'operator_address'])
        .expression((eb) =>
          eb
            .selectFrom(
              orderedJsonRecordset(
                signers.map((signer) => ({ operator_address: signer })),
                'operator_address text',
              ),
            )
            .select([sql<string>`cast(${taskId} as text)`.as('task_id'), 'v.operator_address'])
            .orderBy('v.ordinal'),
        )
        .execute();
      const completed = await tx.db
        .updateTable('tasks')
        .set({ status: 'completed', updated_at: now })
        .where('task_id', '=', taskId)
        .returningAll()
        .executeTakeFirstOrThrow();
      // Successes are replicated facts keyed by (task, operator); the counter is derived from
      // them, so a task also completed by another registry (other signers) counts each once.
      await insertOperatorFacts(
        tx,
        signers.map((operator) => ({ kind: 'succeeded' as const, operator, taskId })),
      );
      await deriveOperatorCounters(tx, signers, undefined);
      const response = await selectAvsTaskResponse(tx, taskId);
      if (!response) throw new StoreNotFoundError(operation, 'proof', taskId);
      return { completed: true, task: toRegistryTaskRecord(completed), response };
    }),
  );
}
