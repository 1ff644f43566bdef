import type { Address, Hex } from 'viem';
import { Task } from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { HASH_BYTES, wireFields } from './fields.ts';
import { MAX_OPERATORS_PER_MESSAGE } from './limits.ts';

/** A task with every operator selected: ~22 bytes per operator plus ~200 bytes of fields. */
export const MAX_TASK_BYTES = 32 * 1024;

/** `/spotted/task/1`: the aggregator asks the selected operators to check and sign a task. */
export interface TaskMessage {
  readonly taskId: Hex;
  readonly chainId: number;
  /** The account whose StateManager entry is proven. */
  readonly targetAddress: Address;
  readonly key: bigint;
  /** The query point: by block → blockNumber set, timestampSec 0; by time → the reverse (see src/protocol/task-fields.ts). */
  readonly blockNumber: bigint;
  /** Seconds; uint48 like the StateManager's history timestamps. */
  readonly timestampSec: bigint;
  readonly byTimestamp: boolean;
  readonly value: bigint;
  readonly epoch: number;
  /** 0 for the first round, then one per retry. */
  readonly round: number;
  readonly respondByMs: number;
  /** The operators asked in this round, strictly ascending by address; others ignore the task. */
  readonly selectedOperators: readonly Address[];
  /** The block the history was read at, so an operator re-reads the same point. */
  readonly historyBlockNumber: bigint;
  readonly historyTimestampSec: bigint;
}

const fields = wireFields('Task');

export function decodeTask(bytes: Uint8Array): TaskMessage {
  const raw = decodeProtobuf('Task', Task, bytes, MAX_TASK_BYTES);
  const selectedOperators = fields
    .list('selected_operators', raw.selectedOperators, {
      maxItems: MAX_OPERATORS_PER_MESSAGE,
      required: true,
    })
    .map((operator, index) => fields.address(`selected_operators[${index}]`, operator));
  fields.ascendingAddresses('selected_operators', selectedOperators);
  return {
    taskId: fields.fixedBytes('task_id', raw.taskId, HASH_BYTES),
    chainId: fields.positive('chain_id', raw.chainId),
    targetAddress: fields.address('target_address', raw.targetAddress),
    key: fields.uint256('key', raw.key),
    blockNumber: raw.blockNumber,
    timestampSec: fields.uint48('timestamp', raw.timestamp),
    byTimestamp: raw.byTimestamp,
    value: fields.uint256('value', raw.value),
    epoch: raw.epoch,
    round: raw.round,
    respondByMs: fields.safeInteger('respond_by_ms', raw.respondByMs),
    selectedOperators,
    historyBlockNumber: raw.historyBlockNumber,
    historyTimestampSec: fields.uint48('history_timestamp', raw.historyTimestamp),
  };
}

export function encodeTask(task: TaskMessage): Uint8Array {
  fields.list('selected_operators', task.selectedOperators, {
    maxItems: MAX_OPERATORS_PER_MESSAGE,
    required: true,
  });
  const selectedOperators = task.selectedOperators.map((operator, index) =>
    fields.addressBytes(`selected_operators[${index}]`, operator),
  );
  fields.ascendingAddresses('selected_operators', task.selectedOperators);
  return encodeProtobuf(
    'Task',
    Task,
    {
      taskId: fields.hexBytes('task_id', task.taskId, HASH_BYTES),
      chainId: fields.positive('chain_id', fields.uint32('chain_id', task.chainId)),
      targetAddress: fields.addressBytes('target_address', task.targetAddress),
      key: fields.uint256Bytes('key', task.key),
      blockNumber: fields.uint64('block_number', task.blockNumber),
      timestamp: fields.uint48('timestamp', fields.uint64('timestamp', task.timestampSec)),
      byTimestamp: task.byTimestamp,
      value: fields.uint256Bytes('value', task.value),
      epoch: fields.uint32('epoch', task.epoch),
      round: fields.uint32('round', task.round),
      respondByMs: fields.uint64('respond_by_ms', task.respondByMs),
      selectedOperators,
      historyBlockNumber: fields.uint64('history_block_number', task.historyBlockNumber),
      historyTimestamp: fields.uint48(
        'history_timestamp',
        fields.uint64('history_timestamp', task.historyTimestampSec),
      ),
    },
    MAX_TASK_BYTES,
  );
}
