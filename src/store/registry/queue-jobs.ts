import { type Selectable, sql } from 'kysely';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB, QueueJobs } from '../generated/registry-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate, storedMs, storedOneOf } from '../stored-values.ts';
import { type InputChecks, inputChecks, type JsonValue, MAX_LIST_LIMIT } from '../validate.ts';
import { QUEUE_JOB_EVENT_KINDS, type QueueJobEvent, type QueueJobEventKind } from './queue-log.ts';

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

const QUEUE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;

export interface EnqueueJobInput {
  /** e.g. "task.collect"; lowercase, at most 64 characters. */
  queue: string;
  /** The same key on the same queue again finds the stored job instead of adding one. */
  idempotencyKey: string;
  /** At most MAX_JOB_PAYLOAD_BYTES of JSON (bigints as strings). */
  payload: JsonValue;
  /** Jobs that belong together (e.g. one task's deliveries), for `wake` and `list`. */
  groupKey?: string;
  /** Leases before the job is dead-lettered; default 5. */
  maxAttempts?: number;
  /** Not leased before this time; default now. */
  visibleAtMs?: number;
  /** Delay before attempt n + 1 after a retry: min(maxMs, initialMs · 2^(n-1)); default 1 s … 60 s. */
  backoff?: { initialMs: number; maxMs: number };
}

export interface QueueJob {
  id: number;
  queue: string;
  idempotencyKey: string;
  groupKey: string | null;
  payload: JsonValue;
  status: JobStatus;
  /** Leases so far, this one included while running. */
  attempts: number;
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
  /** Ready: not leased before this time. Running: the lease runs out at this time. */
  visibleAtMs: number;
  /** The worker holding the lease, while running. */
  leasedBy: string | null;
  progress: JsonValue | null;
  result: JsonValue | null;
  lastError: string | null;
  deadLetterReason: string | null;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs: number | null;
}

/**
 * Proof of holding a job: the job, the attempt the lease was granted for and the worker. Only
 * the current holder can checkpoint, ack, retry or dead-letter the job.
 */
export interface JobLease {
  readonly jobId: number;
  readonly attempt: number;
  readonly workerId: string;
}

export interface LeasedJob extends QueueJob {
  lease: JobLease;
}

export interface DequeueOptions {
  queues: readonly string[];
  /** Who leases; at most 128 characters. Each running worker needs its own id. */
  workerId: string;
  /** The visibility timeout: when the lease runs out, any worker may take the job again. */
  leaseMs: number;
  limit: number;
}

/** Per-queue numbers for metrics. */
export interface QueueStats {
  queue: string;
  ready: number;
  running: number;
  done: number;
  failed: number;
  /** Ready jobs whose time has come (waiting for a worker now). */
  readyNow: number;
  /** Running jobs whose lease ran out (their worker stopped or stalled). */
  expiredLeases: number;
  /** How long the oldest ready or running job has been in the queue; null when there is none. */
  oldestUnfinishedAgeMs: number | null;
}

export interface QueueRepository {
  /** Adds a job, or finds the one with the same key (`created: false`; a different payload is a conflict). */
  enqueue(job: EnqueueJobInput): Promise<{ job: QueueJob; created: boolean }>;
  /**
   * Leases up to `limit` available jobs of `queues`, oldest first: ready jobs whose time has
   * come and running jobs whose lease ran out. `FOR UPDATE SKIP LOCKED`, so workers dequeueing
   * at once never get the same job. A job whose last attempt's lease ran out is dead-lettered
   * instead of leased again.
   */
  dequeue(options: DequeueOptions): Promise<LeasedJob[]>;
  /** Leases one job by id if it is available now (else undefined): the enqueuer starts it at once. */
  lease(
    jobId: number,
    options: { workerId: string; leaseMs: number },
  ): Promise<LeasedJob | undefined>;
  /** Pushes the leases' end to now + leaseMs; leases another worker took since are reported lost. */
  extendLeases(
    leases: readonly JobLease[],
    options: { leaseMs: number },
  ): Promise<{ held: JobLease[]; lost: JobLease[] }>;
  /** Records the job's progress (kept across attempts), e.g. a transaction before it is sent. */
  checkpoint(lease: JobLease, progress: JsonValue): Promise<QueueJob>;
  /** Marks the job done. Acking twice, or after losing the lease, is a StoreConflictError. */
  ack(lease: JobLease, options?: { result?: JsonValue }): Promise<QueueJob>;
  /**
   * Gives the job back after a failed attempt: ready again after the backoff (or `delayMs`), or
   * dead-lettered with the error when it was the last attempt.
   */
  retry(
    lease: JobLease,
    options: { error: string; delayMs?: number },
  ): Promise<{ job: QueueJob; deadLettered: boolean }>;
  /** Fails the job for good (a permanent error), with the reason. */
  deadLetter(lease: JobLease, options: { reason: string }): Promise<QueueJob>;
  /**
   * Returns every job `workerId` holds to ready now: a worker that restarts (or stops cleanly)
   * gives back its leases instead of letting them run out. The attempts stay counted.
   */
  releaseLeases(options: { workerId: string }): Promise<number>;
  /** Makes the group's ready jobs (of `queues`, if given) available now; returns how many. */
  wake(options: { groupKey: string; queues?: readonly string[] }): Promise<number>;
  get(jobId: number): Promise<QueueJob | undefined>;
  getByKey(queue: string, idempotencyKey: string): Promise<QueueJob | undefined>;
  /** By id, ascending; filters are combined. */
  list(options: {
    queue?: string;
    status?: JobStatus;
    groupKey?: string;
    afterId?: number;
    limit: number;
  }): Promise<QueueJob[]>;
  stats(): Promise<QueueStats[]>;
  /** When the next job of `queues` becomes available (now or earlier if one is already). */
  nextVisibleAtMs(options: { queues: readonly string[] }): Promise<number | undefined>;
  /** The write log, by id ascending. */
  events(options: { jobId?: number; afterId?: number; limit: number }): Promise<QueueJobEvent[]>;
  /** Deletes finished jobs (and their log) that ended before `finishedBeforeMs`; bounded by `limit`. */
  purgeFinished(options: { finishedBeforeMs: number; limit: number }): Promise<number>;
}

export function toQueueJob(row: Selectable<QueueJobs>): QueueJob {
  return {
    id: row.id,
    queue: row.queue,
    idempotencyKey: row.idempotency_key,
    groupKey: row.group_key,
    payload: row.payload as JsonValue,
    status: storedOneOf(row.status, JOB_STATUSES),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoff: { initialMs: row.backoff_initial_ms, maxMs: row.backoff_max_ms },
    visibleAtMs: storedMs(row.visible_at),
    leasedBy: row.leased_by,
    progress: row.progress as JsonValue | null,
    result: row.result as JsonValue | null,
    lastError: row.last_error,
    deadLetterReason: row.dead_letter_reason,
    createdAtMs: storedMs(row.created_at),
    updatedAtMs: storedMs(row.updated_at),
    finishedAtMs: row.finished_at === null ? null : storedMs(row.finished_at),
  };
}

export function leased(row: Selectable<QueueJobs>): LeasedJob {
  const job = toQueueJob(row);
  if (job.leasedBy === null) throw new TypeError(`job ${job.id} was leased but has no holder`);
  return { ...job, lease: { jobId: job.id, attempt: job.attempts, workerId: job.leasedBy } };
}

/** Delay before the next attempt after `attempts` failed ones: exponential, capped. */
export function backoffDelayMs(backoff: { initialMs: number; maxMs: number }, attempts: number) {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
}

/** Cuts text to the stored bound; an error message never makes a retry fail. */
export function bounded(text: string): string {
  const single = text.length === 0 ? '(no message)' : text;
  return single.length > MAX_JOB_ERROR_LENGTH
    ? `${single.slice(0, MAX_JOB_ERROR_LENGTH - 1)}…`
    : single;
}

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

type Row = Selectable<QueueJobs>;
type Db = QueryContext<DB>['db'];

interface NewEvent {
  jobId: number;
  kind: QueueJobEventKind;
  attempt: number;
  workerId?: string | null;
  detail?: string | null;
}

async function logEvents(db: Db, at: Date, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('queue_job_events')
    .values(
      events.map((event) => ({
        job_id: event.jobId,
        kind: event.kind,
        attempt: event.attempt,
        worker_id: event.workerId ?? null,
        detail: event.detail === undefined || event.detail === null ? null : bounded(event.detail),
        at,
      })),
    )
    .execute();
}

/**
 * The row of a lease the caller must still hold, locked for the change. Refused: an unknown job
 * (StoreNotFoundError), a finished one (JOB_FINISHED), or one whose lease moved on (LEASE_LOST:
 * it ran out and another worker took the job, or the job went back to ready).
 */
async function heldRow(db: Db, operation: string, lease: JobLease): Promise<Row> {
  const row = await db
    .selectFrom('queue_jobs')
    .selectAll()
    .where('id', '=', lease.jobId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new StoreNotFoundError(operation, 'queue job', String(lease.jobId));
  if (row.status === 'done' || row.status === 'failed') {
    throw new StoreConflictError(
      operation,
      'JOB_FINISHED',
      `job ${row.id} (${row.queue}) already ended as ${row.status}${row.dead_letter_reason ? `: ${row.dead_letter_reason}` : ''}`,
    );
  }
  if (
    row.status !== 'running' ||
    row.attempts !== lease.attempt ||
    row.leased_by !== lease.workerId
  ) {
    const now =
      row.status === 'running'
        ? `attempt ${row.attempts} by ${row.leased_by} holds it now`
        : `it is ${row.status} again`;
    throw new StoreConflictError(
      operation,
      'LEASE_LOST',
      `job ${row.id} (${row.queue}): the lease of attempt ${lease.attempt} by ${lease.workerId} is gone; ${now}`,
    );
  }
  return row;
}

export function createQueueRepository(context: QueryContext<DB>): QueueRepository {
  const now = () => context.clock.now();

  /** Leases the given candidate rows (already locked) or dead-letters the exhausted ones. */
  async function leaseRows(
    db: Db,
    candidates: readonly Pick<Row, 'id' | 'attempts' | 'max_attempts' | 'status' | 'leased_by'>[],
    workerId: string,
    leaseMs: number,
  ): Promise<LeasedJob[]> {
    const nowMs = now();
    const at = msAsDate(nowMs);
    const exhausted = candidates.filter((row) => row.attempts >= row.max_attempts);
    const leasable = candidates.filter((row) => row.attempts < row.max_attempts);
    for (const row of exhausted) {
      const reason =
        row.status === 'running'
          ? `the lease of the last attempt (${row.attempts} of ${row.max_attempts}) held by ${row.leased_by} ran out`
          : `released on the last attempt (${row.attempts} of ${row.max_attempts})`;
      await db
        .updateTable('queue_jobs')
        .set({
          status: 'failed',
          leased_by: null,
          dead_letter_reason: reason,
          finished_at: at,
          updated_at: at,
        })
        .where('id', '=', row.id)
        .execute();
      await logEvents(db, at, [
        { jobId: row.id, kind: 'deadLettered', attempt: row.attempts, detail: reason },
      ]);
    }
    if (leasable.length === 0) return [];
    const rows = await db
      .updateTable('queue_jobs')
      .set((eb) => ({
        status: 'running',
        attempts: eb('attempts', '+', 1),
        visible_at: msAsDate(nowMs + leaseMs),
        leased_by: workerId,
        updated_at: at,
      }))
      .where(
        'id',
        'in',
        leasable.map((row) => row.id),
      )
      .returningAll()
      .execute();
    const order = new Map(leasable.map((row, index) => [row.id, index]));
    rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    await logEvents(
      db,
      at,
      rows.map((row) => ({
        jobId: row.id,
        kind: 'leased' as const,
        attempt: row.attempts,
        workerId,
        detail:
          candidates.find((c) => c.id === row.id)?.status === 'running'
            ? `the lease held by ${candidates.find((c) => c.id === row.id)?.leased_by} ran out`
            : null,
      })),
    );
    return rows.map(leased);
  }

  return {
    async enqueue(job) {
      const operation = 'queue.enqueue';
      const checks = inputChecks(operation);
      checks.require(typeof job === 'object' && job !== null, 'job', 'expected an object');
      const queue = checkQueueName(checks, 'queue', job.queue);
      const idempotencyKey = checks.text('idempotencyKey', job.idempotencyKey, 256);
      const groupKey =
        job.groupKey === undefined ? null : checks.text('groupKey', job.groupKey, 256);
      const payload = checks.json('payload', job.payload, MAX_JOB_PAYLOAD_BYTES);
      const maxAttempts =
        job.maxAttempts === undefined
          ? DEFAULT_MAX_ATTEMPTS
          : checks.positiveInteger('maxAttempts', job.maxAttempts, MAX_JOB_ATTEMPTS);
      const visibleAtMs =
        job.visibleAtMs === undefined
          ? undefined
          : checks.timestampMs('visibleAtMs', job.visibleAtMs);
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
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const at = msAsDate(now());
          const inserted = await tx.db
            .insertInto('queue_jobs')
            .values({
              queue,
              idempotency_key: idempotencyKey,
              group_key: groupKey,
              payload,
              status: 'ready',
              max_attempts: maxAttempts,
              backoff_initial_ms: initialMs,
              backoff_max_ms: maxMs,
              visible_at: visibleAtMs === undefined ? at : msAsDate(visibleAtMs),
              created_at: at,
              updated_at: at,
            })
            .onConflict((conflict) => conflict.constraint('queue_jobs_key_unique').doNothing())
            .returningAll()
            .executeTakeFirst();
          if (inserted) {
            await logEvents(tx.db, at, [{ jobId: inserted.id, kind: 'enqueued', attempt: 0 }]);
            return { job: toQueueJob(inserted), created: true };
          }
          const stored = await tx.db
            .selectFrom('queue_jobs')
            .selectAll()
            .select(sql<boolean>`payload = ${payload}::jsonb`.as('same_payload'))
            .where('queue', '=', queue)
            .where('idempotency_key', '=', idempotencyKey)
            .executeTakeFirst();
          if (!stored)
            throw new StoreNotFoundError(operation, 'queue job', `${queue}/${idempotencyKey}`);
          if (!stored.same_payload) {
            throw new StoreConflictError(
              operation,
              'IDEMPOTENCY_MISMATCH',
              `job ${stored.id} has idempotency key ${JSON.stringify(idempotencyKey)} on ${queue} with a different payload`,
            );
          }
          const { same_payload: _same, ...row } = stored;
          return { job: toQueueJob(row), created: false };
        }),
      );
    },

    async dequeue(options) {
      const operation = 'queue.dequeue';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const queues = checks
        .array('queues', options.queues, 64)
        .map((queue, index) => checkQueueName(checks, `queues[${index}]`, queue));
      checks.require(queues.length > 0, 'queues', 'name at least one queue');
      const workerId = checkWorkerId(checks, options.workerId);
      const leaseMs = checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS);
      const limit = checks.positiveInteger('limit', options.limit, MAX_DEQUEUE_BATCH);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const candidates = await tx.db
            .selectFrom('queue_jobs')
            .select(['id', 'attempts', 'max_attempts', 'status', 'leased_by'])
            .where('queue', 'in', queues)
            .where('status', 'in', ['ready', 'running'])
            .where('visible_at', '<=', msAsDate(now()))
            .orderBy('visible_at')
            .orderBy('id')
            .limit(limit)
            .forUpdate()
            .skipLocked()
            .execute();
          return leaseRows(tx.db, candidates, workerId, leaseMs);
        }),
      );
    },

    async lease(jobId, options) {
      const operation = 'queue.lease';
      const checks = inputChecks(operation);
      const id = checks.rowId('jobId', jobId);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const workerId = checkWorkerId(checks, options.workerId);
      const leaseMs = checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const candidates = await tx.db
            .selectFrom('queue_jobs')
            .select(['id', 'attempts', 'max_attempts', 'status', 'leased_by'])
            .where('id', '=', id)
            .where('status', 'in', ['ready', 'running'])
            .where('visible_at', '<=', msAsDate(now()))
            .forUpdate()
            .skipLocked()
            .execute();
          const [job] = await leaseRows(tx.db, candidates, workerId, leaseMs);
          return job;
        }),
      );
    },

    async extendLeases(leases, options) {
      const operation = 'queue.extendLeases';
      const checks = inputChecks(operation);
      const checked = checks
        .array('leases', leases, MAX_DEQUEUE_BATCH)
        .map((lease) => checkLease(checks, lease));
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const leaseMs = checks.positiveInteger('leaseMs', options.leaseMs, MAX_LEASE_MS);
      if (checked.length === 0) return { held: [], lost: [] };
      return runQuery(operation, async () => {
        const nowMs = now();
        const rows = await context.db
          .updateTable('queue_jobs')
          .set({ visible_at: msAsDate(nowMs + leaseMs), updated_at: msAsDate(nowMs) })
          .where('status', '=', 'running')
          .where((eb) =>
            eb.or(
              checked.map((lease) =>
                eb.and([
                  eb('id', '=', lease.jobId),
                  eb('attempts', '=', lease.attempt),
                  eb('leased_by', '=', lease.workerId),
                ]),
              ),
            ),
          )
          .returning('id')
          .execute();
        const extended = new Set(rows.map((row) => row.id));
        return {
          held: checked.filter((lease) => extended.has(lease.jobId)),
          lost: checked.filter((lease) => !extended.has(lease.jobId)),
        };
      });
    },

    async checkpoint(lease, progress) {
      const operation = 'queue.checkpoint';
      const checks = inputChecks(operation);
      const held = checkLease(checks, lease);
      const text = checks.json('progress', progress, MAX_JOB_PROGRESS_BYTES);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set({ progress: text, updated_at: at })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [
            {
              jobId: held.jobId,
              kind: 'checkpointed',
              attempt: row.attempts,
              workerId: held.workerId,
            },
          ]);
          return toQueueJob(row);
        }),
      );
    },

    async ack(lease, options = {}) {
      const operation = 'queue.ack';
      const checks = inputChecks(operation);
      const held = checkLease(checks, lease);
      const result =
        options.result === undefined
          ? null
          : checks.json('result', options.result, MAX_JOB_PROGRESS_BYTES);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set({ status: 'done', leased_by: null, result, finished_at: at, updated_at: at })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [
            { jobId: held.jobId, kind: 'acked', attempt: row.attempts, workerId: held.workerId },
          ]);
          return toQueueJob(row);
        }),
      );
    },

    async retry(lease, options) {
      const operation = 'queue.retry';
      const checks = inputChecks(operation);
      const held = checkLease(checks, lease);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected { error }',
      );
      checks.require(typeof options.error === 'string', 'error', 'expected the error message');
      const error = bounded(options.error);
      const delayMs =
        options.delayMs === undefined ? undefined : checks.counter('delayMs', options.delayMs);
      checks.require(
        delayMs === undefined || delayMs <= MAX_JOB_DELAY_MS,
        'delayMs',
        `at most ${MAX_JOB_DELAY_MS} ms (one day)`,
      );
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const row = await heldRow(tx.db, operation, held);
          const nowMs = now();
          const at = msAsDate(nowMs);
          if (row.attempts >= row.max_attempts) {
            const reason = bounded(
              `gave up after ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}: ${error}`,
            );
            const failed = await tx.db
              .updateTable('queue_jobs')
              .set({
                status: 'failed',
                leased_by: null,
                last_error: error,
                dead_letter_reason: reason,
                finished_at: at,
                updated_at: at,
              })
              .where('id', '=', held.jobId)
              .returningAll()
              .executeTakeFirstOrThrow();
            await logEvents(tx.db, at, [
              {
                jobId: held.jobId,
                kind: 'deadLettered',
                attempt: failed.attempts,
                workerId: held.workerId,
                detail: reason,
              },
            ]);
            return { job: toQueueJob(failed), deadLettered: true };
          }
          const wait =
            delayMs ??
            backoffDelayMs(
              { initialMs: row.backoff_initial_ms, maxMs: row.backoff_max_ms },
              row.attempts,
            );
          const ready = await tx.db
            .updateTable('queue_jobs')
            .set({
              status: 'ready',
              leased_by: null,
              last_error: error,
              visible_at: msAsDate(nowMs + wait),
              updated_at: at,
            })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [
            {
              jobId: held.jobId,
              kind: 'retried',
              attempt: ready.attempts,
              workerId: held.workerId,
              detail: error,
            },
          ]);
          return { job: toQueueJob(ready), deadLettered: false };
        }),
      );
    },

    async deadLetter(lease, options) {
      const operation = 'queue.deadLetter';
      const checks = inputChecks(operation);
      const held = checkLease(checks, lease);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected { reason }',
      );
      const reason = bounded(checks.text('reason', options.reason, Number.MAX_SAFE_INTEGER));
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set({
              status: 'failed',
              leased_by: null,
              dead_letter_reason: reason,
              finished_at: at,
              updated_at: at,
            })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [
            {
              jobId: held.jobId,
              kind: 'deadLettered',
              attempt: row.attempts,
              workerId: held.workerId,
              detail: reason,
            },
          ]);
          return toQueueJob(row);
        }),
      );
    },

    async releaseLeases(options) {
      const operation = 'queue.releaseLeases';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected { workerId }',
      );
      const workerId = checkWorkerId(checks, options.workerId);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const at = msAsDate(now());
          const rows = await tx.db
            .updateTable('queue_jobs')
            .set({ status: 'ready', leased_by: null, visible_at: at, updated_at: at })
            .where('status', '=', 'running')
            .where('leased_by', '=', workerId)
            .returning(['id', 'attempts'])
            .execute();
          await logEvents(
            tx.db,
            at,
            rows.map((row) => ({
              jobId: row.id,
              kind: 'released' as const,
              attempt: row.attempts,
              workerId,
            })),
          );
          return rows.length;
        }),
      );
    },

    async wake(options) {
      const operation = 'queue.wake';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected { groupKey }',
      );
      const groupKey = checks.text('groupKey', options.groupKey, 256);
      const queues =
        options.queues === undefined
          ? undefined
          : checks
              .array('queues', options.queues, 64)
              .map((queue, index) => checkQueueName(checks, `queues[${index}]`, queue));
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const at = msAsDate(now());
          let query = tx.db
            .updateTable('queue_jobs')
            .set({ visible_at: at, updated_at: at })
            .where('group_key', '=', groupKey)
            .where('status', '=', 'ready')
            .where('visible_at', '>', at);
          if (queues !== undefined) {
            if (queues.length === 0) return 0;
            query = query.where('queue', 'in', queues);
          }
          const rows = await query.returning(['id', 'attempts']).execute();
          await logEvents(
            tx.db,
            at,
            rows.map((row) => ({ jobId: row.id, kind: 'woken' as const, attempt: row.attempts })),
          );
          return rows.length;
        }),
      );
    },

    async get(jobId) {
      const operation = 'queue.get';
      const id = inputChecks(operation).rowId('jobId', jobId);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('queue_jobs')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        return row ? toQueueJob(row) : undefined;
      });
    },

    async getByKey(queue, idempotencyKey) {
      const operation = 'queue.getByKey';
      const checks = inputChecks(operation);
      const name = checkQueueName(checks, 'queue', queue);
      const key = checks.text('idempotencyKey', idempotencyKey, 256);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('queue_jobs')
          .selectAll()
          .where('queue', '=', name)
          .where('idempotency_key', '=', key)
          .executeTakeFirst();
        return row ? toQueueJob(row) : undefined;
      });
    },

    async list(options) {
      const operation = 'queue.list';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const limit = checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT);
      const queue =
        options.queue === undefined ? undefined : checkQueueName(checks, 'queue', options.queue);
      const status =
        options.status === undefined
          ? undefined
          : checks.oneOf('status', options.status, JOB_STATUSES);
      const groupKey =
        options.groupKey === undefined ? undefined : checks.text('groupKey', options.groupKey, 256);
      const afterId = options.afterId === undefined ? 0 : checks.rowId('afterId', options.afterId);
      return runQuery(operation, async () => {
        let query = context.db.selectFrom('queue_jobs').selectAll().where('id', '>', afterId);
        if (queue !== undefined) query = query.where('queue', '=', queue);
        if (status !== undefined) query = query.where('status', '=', status);
        if (groupKey !== undefined) query = query.where('group_key', '=', groupKey);
        const rows = await query.orderBy('id').limit(limit).execute();
        return rows.map(toQueueJob);
      });
    },

    async stats() {
      const operation = 'queue.stats';
      return runQuery(operation, async () => {
        const nowMs = now();
        const at = msAsDate(nowMs);
        const rows = await context.db
          .selectFrom('queue_jobs')
          .select((eb) => [
            'queue',
            'status',
            eb.fn.countAll<number>().as('count'),
            sql<number>`count(*) FILTER (WHERE visible_at <= ${at})`.as('visible'),
            eb.fn.min('created_at').as('oldest_created_at'),
          ])
          .groupBy(['queue', 'status'])
          .orderBy('queue')
          .execute();
        const byQueue = new Map<string, QueueStats>();
        for (const row of rows) {
          let stats = byQueue.get(row.queue);
          if (!stats) {
            stats = {
              queue: row.queue,
              ready: 0,
              running: 0,
              done: 0,
              failed: 0,
              readyNow: 0,
              expiredLeases: 0,
              oldestUnfinishedAgeMs: null,
            };
            byQueue.set(row.queue, stats);
          }
          const status = storedOneOf(row.status, JOB_STATUSES);
          const count = Number(row.count);
          stats[status] = count;
          if (status === 'ready') stats.readyNow = Number(row.visible);
          if (status === 'running') stats.expiredLeases = Number(row.visible);
          if ((status === 'ready' || status === 'running') && row.oldest_created_at !== null) {
            const age = nowMs - storedMs(row.oldest_created_at as Date);
            stats.oldestUnfinishedAgeMs = Math.max(stats.oldestUnfinishedAgeMs ?? 0, age);
          }
        }
        return [...byQueue.values()];
      });
    },

    async nextVisibleAtMs(options) {
      const operation = 'queue.nextVisibleAtMs';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected { queues }',
      );
      const queues = checks
        .array('queues', options.queues, 64)
        .map((queue, index) => checkQueueName(checks, `queues[${index}]`, queue));
      if (queues.length === 0) return undefined;
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('queue_jobs')
          .select((eb) => eb.fn.min('visible_at').as('next'))
          .where('queue', 'in', queues)
          .where('status', 'in', ['ready', 'running'])
          .executeTakeFirst();
        const next = row?.next as Date | null | undefined;
        return next === null || next === undefined ? undefined : storedMs(next);
      });
    },

    async events(options) {
      const operation = 'queue.events';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const limit = checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT);
      const jobId = options.jobId === undefined ? undefined : checks.rowId('jobId', options.jobId);
      const afterId = options.afterId === undefined ? 0 : checks.rowId('afterId', options.afterId);
      return runQuery(operation, async () => {
        let query = context.db.selectFrom('queue_job_events').selectAll().where('id', '>', afterId);
        if (jobId !== undefined) query = query.where('job_id', '=', jobId);
        const rows = await query.orderBy('id').limit(limit).execute();
        return rows.map((row) => ({
          id: row.id,
          jobId: row.job_id,
          kind: storedOneOf(row.kind, QUEUE_JOB_EVENT_KINDS),
          attempt: row.attempt,
          workerId: row.worker_id,
          detail: row.detail,
          atMs: storedMs(row.at),
        }));
      });
    },

    async purgeFinished(options) {
      const operation = 'queue.purgeFinished';
      const checks = inputChecks(operation);
      checks.require(
        typeof options === 'object' && options !== null,
        'options',
        'expected an object',
      );
      const before = checks.timestampMs('finishedBeforeMs', options.finishedBeforeMs);
      const limit = checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const ids = (
            await tx.db
              .selectFrom('queue_jobs')
              .select('id')
              .where('status', 'in', ['done', 'failed'])
              .where('finished_at', '<', msAsDate(before))
              .orderBy('id')
              .limit(limit)
              .forUpdate()
              .skipLocked()
              .execute()
          ).map((row) => row.id);
          if (ids.length === 0) return 0;
          await tx.db.deleteFrom('queue_job_events').where('job_id', 'in', ids).execute();
          await tx.db.deleteFrom('queue_jobs').where('id', 'in', ids).execute();
          return ids.length;
        }),
      );
    },
  };
}
