import type { TaskIdFields } from '../core/task-id.ts';
import { computeTaskId } from '../core/task-id.ts';
import type { TaskMessage } from '../wire/task.ts';

/**
 * What a proof states: "at block N (or at time T) on chain C, value(user, key) was v, attested in
 * epoch E". The task id commits to the *query point*, not to the history entry that answered it:
 * a request by block puts N in blockNumber and 0 in timestamp; a request by time puts 0 in
 * blockNumber and T in timestamp. The same request in the same epoch is the same task.
 */
export interface ProofQuery {
  chainId: number;
  targetAddress: TaskIdFields['user'];
  key: bigint;
  /** Exactly one of these is set. */
  blockNumber?: bigint;
  timestampSec?: bigint;
}

export function taskIdFieldsFor(query: ProofQuery, epoch: number, value: bigint): TaskIdFields {
  return {
    user: query.targetAddress,
    chainId: query.chainId,
    blockNumber: query.blockNumber ?? 0n,
    timestampSec: query.timestampSec ?? 0n,
    epoch,
    key: query.key,
    value,
  };
}

/** The task id a task message must carry, recomputed from its fields (operators check it). */
export function taskIdOfMessage(task: TaskMessage): `0x${string}` {
  return computeTaskId({
    user: task.targetAddress,
    chainId: task.chainId,
    blockNumber: task.byTimestamp ? 0n : task.blockNumber,
    timestampSec: task.byTimestamp ? task.timestampSec : 0n,
    epoch: task.epoch,
    key: task.key,
    value: task.value,
  });
}
