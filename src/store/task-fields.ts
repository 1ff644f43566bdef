import type { Address, Hex } from 'viem';
import type { TaskStatus } from '../core/task-status.ts';
import { StoreConflictError } from './errors.ts';
import { storedAddress, storedHex, storedMs, storedTaskStatus } from './stored-values.ts';
import { type InputChecks, inputChecks, MAX_LIST_LIMIT } from './validate.ts';

/**
 * A task (a proof request) as both the registry's and an operator's `tasks` table hold it.
 * `taskId = keccak256(abi.encodePacked(user, chainId, blockNumber, timestamp, epoch, key, value))`.
 */
export interface TaskInput {
  taskId: Hex;
  /** The StateManager user whose value is proven. */
  targetAddress: Address;
  chainId: number;
  blockNumber: bigint;
  timestampSec: bigint;
  epoch: number;
  key: bigint;
  value: bigint;
  expiresAtMs: number;
}

export interface TaskRecord extends TaskInput {
  status: TaskStatus;
  createdAtMs: number;
  updatedAtMs: number;
}

/** The columns both `tasks` tables share. */
export interface TaskRow {
  task_id: string;
  target_address: string;
  chain_id: number;
  block_number: bigint;
  timestamp_sec: bigint;
  epoch: number;
  key: bigint;
  value: bigint;
  expires_at: Date;
  status: string;
  created_at: Date;
  updated_at: Date;
}

/** Task fields validated and in stored form (lowercase hex). */
export interface CheckedTask {
  taskId: Hex;
  targetAddress: Lowercase<Address>;
  chainId: number;
  blockNumber: bigint;
  timestampSec: bigint;
  epoch: number;
  key: bigint;
  value: bigint;
  expiresAtMs: number;
}

export function checkTask(checks: InputChecks, value: unknown): CheckedTask {
  checks.require(typeof value === 'object' && value !== null, 'task', 'expected an object');
  const task = value as Partial<Record<keyof TaskInput, unknown>>;
  return {
    taskId: checks.bytes32('taskId', task.taskId),
    targetAddress: checks.address('targetAddress', task.targetAddress),
    chainId: checks.uint32('chainId', task.chainId),
    blockNumber: checks.uint64('blockNumber', task.blockNumber),
    timestampSec: checks.uint48('timestampSec', task.timestampSec),
    epoch: checks.uint32('epoch', task.epoch),
    key: checks.uint256('key', task.key),
    value: checks.uint256('value', task.value),
    expiresAtMs: checks.timestampMs('expiresAtMs', task.expiresAtMs),
  };
}

export function newTaskColumns(task: CheckedTask, now: Date): TaskRow {
  return {
    task_id: task.taskId,
    target_address: task.targetAddress,
    chain_id: task.chainId,
    block_number: task.blockNumber,
    timestamp_sec: task.timestampSec,
    epoch: task.epoch,
    key: task.key,
    value: task.value,
    expires_at: new Date(task.expiresAtMs),
    status: 'pending',
    created_at: now,
    updated_at: now,
  };
}

export function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    taskId: storedHex(row.task_id),
    targetAddress: storedAddress(row.target_address),
    chainId: row.chain_id,
    blockNumber: row.block_number,
    timestampSec: row.timestamp_sec,
    epoch: row.epoch,
    key: row.key,
    value: row.value,
    expiresAtMs: storedMs(row.expires_at),
    status: storedTaskStatus(row.status),
    createdAtMs: storedMs(row.created_at),
    updatedAtMs: storedMs(row.updated_at),
  };
}

/**
 * Creating a task whose id is already stored is idempotent only if every field the id commits to
 * matches; anything else is a bug upstream (the id was not computed from these fields), refused
 * loudly. The deadline may differ: a retried request gets a new one but stays the same task.
 */
export function checkSameTask(operation: string, stored: TaskRow, task: CheckedTask): void {
  const differing = (
    [
      ['targetAddress', stored.target_address === task.targetAddress],
      ['chainId', stored.chain_id === task.chainId],
      ['blockNumber', stored.block_number === task.blockNumber],
      ['timestampSec', stored.timestamp_sec === task.timestampSec],
      ['epoch', stored.epoch === task.epoch],
      ['key', stored.key === task.key],
      ['value', stored.value === task.value],
    ] as const
  )
    .filter(([, same]) => !same)
    .map(([field]) => field);
  if (differing.length > 0) {
    throw new StoreConflictError(
      operation,
      'TASK_MISMATCH',
      `task ${task.taskId} is already stored with a different ${differing.join(', ')}`,
    );
  }
}

/**
 * A task moves from pending to exactly one final status, once (SPEC §3: each task ends in exactly
 * one of completed / failed / expired). Setting the status it already has is a no-op.
 */
export function checkStatusChange(
  operation: string,
  taskId: string,
  current: TaskStatus,
  requested: TaskStatus,
): 'apply' | 'unchanged' {
  if (current === requested) return 'unchanged';
  if (current === 'pending') return 'apply';
  throw new StoreConflictError(
    operation,
    'TASK_FINAL',
    `task ${taskId} already ended as ${current}; it cannot become ${requested}`,
  );
}

/**
 * `listByStatus`'s arguments checked, for both `tasks` tables and the memory adapters, so every
 * store refuses the same arguments alike.
 */
export function checkTaskListByStatus(
  operation: string,
  status: TaskStatus,
  options: { limit: number },
) {
  const checks = inputChecks(operation);
  const requested = checks.taskStatus('status', status);
  const limit = checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT);
  return { requested, limit };
}

/** `listExpired`'s arguments checked (as `checkTaskListByStatus`, for every `tasks` store). */
export function checkTaskListExpired(operation: string, options: { nowMs: number; limit: number }) {
  const checks = inputChecks(operation);
  const nowMs = checks.timestampMs('nowMs', options?.nowMs);
  const limit = checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT);
  return { nowMs, limit };
}
