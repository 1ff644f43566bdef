import type { Selectable } from 'kysely';
import type { Address, Hex } from 'viem';
import type { AvsTaskResponses, DB } from '../generated/registry-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress, storedHex, storedMs } from '../stored-values.ts';
import { inputChecks } from '../validate.ts';

export interface ProofSigner {
  operator: Address;
  /** 65 bytes, v = 27 or 28. */
  signature: Hex;
}

/** The proof returned for a completed task (written by `completeTask`). */
export interface AvsTaskResponseRecord {
  taskId: Hex;
  epoch: number;
  /** Ascending by operator address as a number, as `isValidSignature` requires. */
  signers: ProofSigner[];
  /** `abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch)`. */
  signatureData: Hex;
  /** Sum of the signers' snapshot weights at `epoch`. */
  signedWeightWei: bigint;
  respondedAtMs: number;
}

export interface AvsTaskResponsesRepository {
  get(taskId: Hex): Promise<AvsTaskResponseRecord | undefined>;
}

/** Reads a proof with its signers' signatures (joined from operator_task_responses). */
export async function selectAvsTaskResponse(
  context: QueryContext<DB>,
  taskId: string,
): Promise<AvsTaskResponseRecord | undefined> {
  const response = await context.db
    .selectFrom('avs_task_responses')
    .selectAll()
    .where('task_id', '=', taskId)
    .executeTakeFirst();
  if (!response) return undefined;
  const signers = await context.db
    .selectFrom('avs_task_response_signers as signer')
    .innerJoin('operator_task_responses as answer', (join) =>
      join
        .onRef('answer.task_id', '=', 'signer.task_id')
        .onRef('answer.operator_address', '=', 'signer.operator_address'),
    )
    .select(['signer.operator_address', 'answer.signature'])
    .where('signer.task_id', '=', taskId)
    .orderBy('signer.operator_address')
    .execute();
  return toAvsTaskResponseRecord(response, signers);
}

/**
 * A proof row as a record, with its signers' addresses and signatures (ascending by address;
 * shared with the memory adapter).
 */
export function toAvsTaskResponseRecord(
  response: Selectable<AvsTaskResponses>,
  signers: readonly { operator_address: string; signature: string | null }[],
): AvsTaskResponseRecord {
  return {
    taskId: storedHex(response.task_id),
    epoch: response.epoch,
    signers: signers.map((signer) => {
      if (signer.signature === null) {
        throw new TypeError(
          `proof ${response.task_id} includes ${signer.operator_address}, who did not sign`,
        );
      }
      return {
        operator: storedAddress(signer.operator_address),
        signature: storedHex(signer.signature),
      };
    }),
    signatureData: storedHex(response.signature_data),
    signedWeightWei: response.signed_weight,
    respondedAtMs: storedMs(response.responded_at),
  };
}

export function createAvsTaskResponsesRepository(
  context: QueryContext<DB>,
): AvsTaskResponsesRepository {
  return {
    async get(taskId) {
      const operation = 'avsResponses.get';
      const key = inputChecks(operation).bytes32('taskId', taskId);
      return runQuery(operation, () => selectAvsTaskResponse(context, key));
    },
  };
}
