import { type InputChecks, inputChecks, type JsonValue, MAX_LIST_LIMIT } from '../validate.ts';
import type { DequeueOptions, EnqueueJobInput, JobLease } from './queue-jobs.ts';

/** The status index: `ready → running → done | failed` (and `running → ready` on a retry). */
export type JobStatus = 'ready' | 'running' | 'done' | 'failed';
export const JOB_STATUSES: readonly JobStatus[] = ['ready', 'running', 'done', 'failed'];

/** Bounds ("put a limit on everything"). */
export const MAX_JOB_PAYLOAD_BYTES = 16 * 1024;
/** Progress and results may hold a signed transaction, whose size grows with the signer count. */
export const MAX_JOB_PROGRESS_BYTES = 128 * 1024;
export const MAX_JOB_ATTEMPTS = 1_000;
export const MAX_LEASE_MS = 60 * 60 * 1000;
export const MAX_JOB_DELAY_MS = 24 * 60 * 60 * 1000;
export const MAX_DEQUEUE_BATCH = 1_000;
/** Errors and dead-letter reasons longer than this are cut (never refused: that would lose the job). */
export const MAX_JOB_ERROR_LENGTH = 1_024;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 60_000 } as const;

/** Cuts text to the stored bound; an error message never makes a retry fail. */
export function bounded(text: string): string {
  const single = text.length === 0 ? '(no message)' : text;
  return single.length > MAX_JOB_ERROR_LENGTH
    ? `${single.slice(0, MAX_JOB_ERROR_LENGTH - 1)}…`
    : single;
}

/**
 * The argument checks of the job queue's methods, one function a method. Both stores (SQL in
 * queue-jobs.ts, memory in adapters/store-memory) call them before touching any row, so they
 * refuse the same input with the same StoreInputError and work on the same checked values.
 */

const QUEUE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;

export function checkQueueName(checks: InputChecks, field: string, value: unknown): string {
  return checks.matching(
    field,
    value,
    QUEUE_NAME,
    'a queue name (lowercase, a-z0-9_.-, 1–64 characters)',
  );
}

export function checkWorkerId(checks: InputChecks, value: unknown): string {
  return checks.matching(
    'workerId',
    value,
    WORKER_ID,
    'a worker id (1–128 characters: A-Za-z0-9_.:@/-)',
  );
}

export function checkLease(checks: InputChecks, lease: unknown): JobLease {
  checks.require(typeof lease === 'object' && lease !== null, 'lease', 'expected a JobLease');
  const value = lease as Partial<JobLease>;
  return {
    jobId: checks.rowId('lease.jobId', value.jobId),
    attempt: checks.counter('lease.attempt', value.attempt),
    workerId: checkWorkerId(checks, value.workerId),
  };
}

/** The options argument must be an object; `expected` says which fields it takes. */
function requireOptions(checks: InputChecks, options: unknown, expected: string): void {
  checks.require(typeof options === 'object' && options !== null, 'options', expected);
}

/** A `queues` list: at most 64 names, each a queue name. */
function checkQueueNames(checks: InputChecks, value: unknown): string[] {
  return checks
    .array('queues', value, 64)
    .map((queue, index) => checkQueueName(checks, `queues[${index}]`, queue));
}

export interface CheckedEnqueue {
  queue: string;
  idempotencyKey: string;
  groupKey: string | null;
  /** The payload's JSON text. */
  payloadJson: string;
  maxAttempts: number;
  /** Undefined: visible at once. */
  visibleAtMs: number | undefined;
  backoff: { initialMs: number; maxMs: number };
}

/** `enqueue`'s job, with the defaults filled in. */
export function checkEnqueue(operation: string, job: EnqueueJobInput): CheckedEnqueue {
  const checks = inputChecks(operation);
  checks.require(typeof job === 'object' && job !== null, 'job', 'expected an object');
  const queue = checkQueueName(checks, 'queue', job.queue);
  const idempotencyKey = checks.text('idempotencyKey', job.idempotencyKey, 256);
  const groupKey = job.groupKey === undefined ? null : checks.text('groupKey', job.groupKey, 256);
  const payloadJson = checks.json('payload', job.payload, MAX_JOB_PAYLOAD_BYTES);
  const maxAttempts =
    job.maxAttempts === undefined
      ? DEFAULT_MAX_ATTEMPTS
      : checks.positiveInteger('maxAttempts', job.maxAttempts, MAX_JOB_ATTEMPTS);
  const visibleAtMs =
    job.visibleAtMs === undefined ? undefined : checks.timestampMs('visibleAtMs', job.visibleAtMs);
  const backoff = job.backoff ?? DEFAULT_BACKOFF;
  checks.require(
    typeof backoff === 'object' && backoff !== null,
    'backoff',
    'expected { initialMs, maxMs }',
  );
  const initialMs = checks.positiveInteger(
    'backoff.initialMs',
    backoff.initialMs,
    MAX_JOB_DELAY_MS,
  );
  const maxMs = checks.positiveInteger('backoff.maxMs', backoff.maxMs, MAX_JOB_DELAY_MS);
  checks.require(maxMs >= initialMs, 'backoff.maxMs', 'must be at least backoff.initialMs');
  return {
    queue,
    idempotencyKey,
    groupKey,
    payloadJson,
    maxAttempts,
    visibleAtMs,
    backoff: { initialMs, maxMs },
  };
}

/** `dequeue`'s options: at least one queue, a worker, a lease and a batch size. */
export function checkDequeue(operation: string, options: DequeueOptions) {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected an object');
  const queues = checkQueueNames(checks, options.queues);
  checks.require(queues.length > 0, 'queues', 'name at least one queue');
  return {
    queues,
    workerId: checkWorkerId(checks, options.workerId),
    leaseMs: checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS),
    limit: checks.positiveInteger('limit', options.limit, MAX_DEQUEUE_BATCH),
  };
}

/** `lease`'s job id and options. */
export function checkLeaseJob(
  operation: string,
  jobId: number,
  options: { workerId: string; leaseMs: number },
) {
  const checks = inputChecks(operation);
  const id = checks.rowId('jobId', jobId);
  requireOptions(checks, options, 'expected an object');
  return {
    id,
    workerId: checkWorkerId(checks, options.workerId),
    leaseMs: checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS),
  };
}

/** `extendLeases`' leases (`checked`, at most a dequeue batch) and new lease length. */
export function checkExtendLeases(
  operation: string,
  leases: readonly JobLease[],
  options: { leaseMs: number },
) {
  const checks = inputChecks(operation);
  const checked = checks
    .array('leases', leases, MAX_DEQUEUE_BATCH)
    .map((lease) => checkLease(checks, lease));
  requireOptions(checks, options, 'expected an object');
  return {
    checked,
    leaseMs: checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS),
  };
}

/** `checkpoint`'s lease and progress (as JSON text). */
export function checkCheckpoint(operation: string, lease: JobLease, progress: JsonValue) {
  const checks = inputChecks(operation);
  return {
    held: checkLease(checks, lease),
    progressJson: checks.json('progress', progress, MAX_JOB_PROGRESS_BYTES),
  };
}

/** `ack`'s lease and result (as JSON text; null when none is given). */
export function checkAck(operation: string, lease: JobLease, options: { result?: JsonValue }) {
  const checks = inputChecks(operation);
  const held = checkLease(checks, lease);
  const resultJson =
    options.result === undefined
      ? null
      : checks.json('result', options.result, MAX_JOB_PROGRESS_BYTES);
  return { held, resultJson };
}

/** `retry`'s lease, error (cut to the stored bound) and delay (at most a day). */
export function checkRetry(
  operation: string,
  lease: JobLease,
  options: { error: string; delayMs?: number },
) {
  const checks = inputChecks(operation);
  const held = checkLease(checks, lease);
  requireOptions(checks, options, 'expected { error }');
  checks.require(typeof options.error === 'string', 'error', 'expected the error message');
  const error = bounded(options.error);
  const delayMs =
    options.delayMs === undefined ? undefined : checks.counter('delayMs', options.delayMs);
  checks.require(
    delayMs === undefined || delayMs <= MAX_JOB_DELAY_MS,
    'delayMs',
    `at most ${MAX_JOB_DELAY_MS} ms (one day)`,
  );
  return { held, error, delayMs };
}

/** `deadLetter`'s lease and reason (cut to the stored bound). */
export function checkDeadLetter(operation: string, lease: JobLease, options: { reason: string }) {
  const checks = inputChecks(operation);
  const held = checkLease(checks, lease);
  requireOptions(checks, options, 'expected { reason }');
  const reason = bounded(checks.text('reason', options.reason, Number.MAX_SAFE_INTEGER));
  return { held, reason };
}

/** `releaseLeases`' worker id. */
export function checkReleaseLeases(operation: string, options: { workerId: string }): string {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected { workerId }');
  return checkWorkerId(checks, options.workerId);
}

/** `wake`'s group and queues (undefined: every queue). */
export function checkWake(
  operation: string,
  options: { groupKey: string; queues?: readonly string[] },
) {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected { groupKey }');
  return {
    groupKey: checks.text('groupKey', options.groupKey, 256),
    queues: options.queues === undefined ? undefined : checkQueueNames(checks, options.queues),
  };
}

/** `get`'s job id. */
export function checkJobId(operation: string, jobId: number): number {
  return inputChecks(operation).rowId('jobId', jobId);
}

/** `getByKey`'s queue and key. */
export function checkJobKey(operation: string, queue: string, idempotencyKey: string) {
  const checks = inputChecks(operation);
  return {
    name: checkQueueName(checks, 'queue', queue),
    key: checks.text('idempotencyKey', idempotencyKey, 256),
  };
}

/** `list`'s filters (undefined: no filter) and page. */
export function checkList(
  operation: string,
  options: {
    queue?: string;
    status?: JobStatus;
    groupKey?: string;
    afterId?: number;
    limit: number;
  },
) {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected an object');
  const limit = checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT);
  const queue =
    options.queue === undefined ? undefined : checkQueueName(checks, 'queue', options.queue);
  const status =
    options.status === undefined ? undefined : checks.oneOf('status', options.status, JOB_STATUSES);
  const groupKey =
    options.groupKey === undefined ? undefined : checks.text('groupKey', options.groupKey, 256);
  const afterId = options.afterId === undefined ? 0 : checks.rowId('afterId', options.afterId);
  return { limit, queue, status, groupKey, afterId };
}

/** `nextVisibleAtMs`' queues. */
export function checkNextVisibleAtMs(
  operation: string,
  options: { queues: readonly string[] },
): string[] {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected { queues }');
  return checkQueueNames(checks, options.queues);
}

/** `events`' job filter (undefined: every job) and page. */
export function checkEvents(
  operation: string,
  options: { jobId?: number; afterId?: number; limit: number },
) {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected an object');
  return {
    limit: checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT),
    jobId: options.jobId === undefined ? undefined : checks.rowId('jobId', options.jobId),
    afterId: options.afterId === undefined ? 0 : checks.rowId('afterId', options.afterId),
  };
}

/** `purgeFinished`' cut-off time and bound. */
export function checkPurgeFinished(
  operation: string,
  options: { finishedBeforeMs: number; limit: number },
) {
  const checks = inputChecks(operation);
  requireOptions(checks, options, 'expected an object');
  return {
    before: checks.timestampMs('finishedBeforeMs', options.finishedBeforeMs),
    limit: checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT),
  };
}
