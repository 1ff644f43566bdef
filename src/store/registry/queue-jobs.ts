import { type Selectable, sql } from 'kysely';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB, QueueJobs } from '../generated/registry-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate, storedMs, storedOneOf } from '../stored-values.ts';
import type { JsonValue } from '../validate.ts';
import * as queueChecks from './queue-checks.ts';
import { bounded, type CheckedEnqueue, JOB_STATUSES, type JobStatus } from './queue-checks.ts';
import { type QueueJobEvent, type QueueJobEventKind, toQueueJobEvent } from './queue-log.ts';

export {
  bounded,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_ATTEMPTS,
  JOB_STATUSES,
  type JobStatus,
  MAX_DEQUEUE_BATCH,
  MAX_JOB_ATTEMPTS,
  MAX_JOB_DELAY_MS,
  MAX_JOB_ERROR_LENGTH,
  MAX_JOB_PAYLOAD_BYTES,
  MAX_JOB_PROGRESS_BYTES,
  MAX_LEASE_MS,
} from './queue-checks.ts';

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

type Row = Selectable<QueueJobs>;
type Db = QueryContext<DB>['db'];

/*
 * The queue's rules on a job row that do not depend on how rows are stored: the SQL store below
 * and the memory store (adapters/store-memory/memory-registry-queue.ts) both apply them, so the
 * two give the same errors, reasons and log entries.
 */

/** Whether the row is still leased by `lease` (running, same attempt, same worker). */
export function holdsLease(
  row: Pick<Row, 'status' | 'attempts' | 'leased_by'>,
  lease: JobLease,
): boolean {
  return (
    row.status === 'running' && row.attempts === lease.attempt && row.leased_by === lease.workerId
  );
}

/**
 * The row of a lease the caller must still hold. Refused: an unknown job (StoreNotFoundError), a
 * finished one (JOB_FINISHED), or one whose lease moved on (LEASE_LOST: it ran out and another
 * worker took the job, or the job went back to ready).
 */
export function checkHeldRow<R extends Row>(
  operation: string,
  lease: JobLease,
  row: R | undefined,
): R {
  if (!row) throw new StoreNotFoundError(operation, 'queue job', String(lease.jobId));
  if (row.status === 'done' || row.status === 'failed') {
    throw new StoreConflictError(
      operation,
      'JOB_FINISHED',
      `job ${row.id} (${row.queue}) already ended as ${row.status}${row.dead_letter_reason ? `: ${row.dead_letter_reason}` : ''}`,
    );
  }
  if (!holdsLease(row, lease)) {
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

/** An enqueue of `job` whose key the stored job `jobId` has, with another payload. */
export function idempotencyMismatch(
  operation: string,
  jobId: number,
  job: Pick<CheckedEnqueue, 'queue' | 'idempotencyKey'>,
): StoreConflictError {
  return new StoreConflictError(
    operation,
    'IDEMPOTENCY_MISMATCH',
    `job ${jobId} has idempotency key ${JSON.stringify(job.idempotencyKey)} on ${job.queue} with a different payload`,
  );
}

type LeaseCandidate = Pick<Row, 'id' | 'attempts' | 'max_attempts' | 'status' | 'leased_by'>;

/** Why a candidate on its last attempt is dead-lettered instead of leased again. */
export function lastAttemptReason(row: LeaseCandidate): string {
  return row.status === 'running'
    ? `the lease of the last attempt (${row.attempts} of ${row.max_attempts}) held by ${row.leased_by} ran out`
    : `released on the last attempt (${row.attempts} of ${row.max_attempts})`;
}

/** The `leased` event's detail: a take-over says whose lease ran out. */
export function takeOverDetail(before: Pick<Row, 'status' | 'leased_by'> | undefined) {
  return before?.status === 'running' ? `the lease held by ${before.leased_by} ran out` : null;
}

/** The dead-letter reason of a retry on the last attempt. */
export function gaveUpReason(attempts: number, error: string): string {
  return bounded(`gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${error}`);
}

/** How long a retried job waits: the caller's delay, else the job's backoff. */
export function retryDelayMs(
  row: Pick<Row, 'attempts' | 'backoff_initial_ms' | 'backoff_max_ms'>,
  delayMs: number | undefined,
): number {
  return (
    delayMs ??
    backoffDelayMs({ initialMs: row.backoff_initial_ms, maxMs: row.backoff_max_ms }, row.attempts)
  );
}

/** `extendLeases`' answer: the leases whose job was extended are held, the others lost. */
export function splitLeases(leases: readonly JobLease[], extended: ReadonlySet<number>) {
  return {
    held: leases.filter((lease) => extended.has(lease.jobId)),
    lost: leases.filter((lease) => !extended.has(lease.jobId)),
  };
}

/** A queue's numbers before any job is counted. */
export function emptyQueueStats(queue: string): QueueStats {
  return {
    queue,
    ready: 0,
    running: 0,
    done: 0,
    failed: 0,
    readyNow: 0,
    expiredLeases: 0,
    oldestUnfinishedAgeMs: null,
  };
}

/** The columns of a new job (the store adds the id and the defaults of the other columns). */
export function newJobColumns(job: CheckedEnqueue, at: Date) {
  return {
    queue: job.queue,
    idempotency_key: job.idempotencyKey,
    group_key: job.groupKey,
    payload: job.payloadJson,
    status: 'ready' as const,
    max_attempts: job.maxAttempts,
    backoff_initial_ms: job.backoff.initialMs,
    backoff_max_ms: job.backoff.maxMs,
    visible_at: job.visibleAtMs === undefined ? at : msAsDate(job.visibleAtMs),
    created_at: at,
    updated_at: at,
  };
}

/** The columns a dead letter sets: failed for good, no holder, with the reason. */
export function deadLetterColumns(reason: string, at: Date) {
  return {
    status: 'failed' as const,
    leased_by: null,
    dead_letter_reason: reason,
    finished_at: at,
    updated_at: at,
  };
}

/** An entry for the write log, before it is stored. */
export interface NewQueueJobEvent {
  jobId: number;
  kind: QueueJobEventKind;
  attempt: number;
  workerId?: string | null;
  detail?: string | null;
}

/** The `queue_job_events` columns of a new entry (all but the id); the detail cut to the bound. */
export function queueJobEventColumns(event: NewQueueJobEvent, at: Date) {
  return {
    job_id: event.jobId,
    kind: event.kind,
    attempt: event.attempt,
    worker_id: event.workerId ?? null,
    detail: event.detail === undefined || event.detail === null ? null : bounded(event.detail),
    at,
  };
}

/** The log entry of a change the holder of `lease` made; `attempt` is the job's after it. */
export function heldEvent(
  lease: JobLease,
  kind: QueueJobEventKind,
  attempt: number,
  detail?: string,
): NewQueueJobEvent {
  return { jobId: lease.jobId, kind, attempt, workerId: lease.workerId, detail: detail ?? null };
}

/** The log entries of one change to many jobs (release, wake), `workerId` when a worker made it. */
export function rowEvents(
  rows: readonly Pick<Row, 'id' | 'attempts'>[],
  kind: QueueJobEventKind,
  workerId?: string,
): NewQueueJobEvent[] {
  return rows.map((row) => ({
    jobId: row.id,
    kind,
    attempt: row.attempts,
    workerId: workerId ?? null,
  }));
}

async function logEvents(db: Db, at: Date, events: readonly NewQueueJobEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('queue_job_events')
    .values(events.map((event) => queueJobEventColumns(event, at)))
    .execute();
}

/** The row of a lease the caller must still hold (see `checkHeldRow`), locked for the change. */
async function heldRow(db: Db, operation: string, lease: JobLease): Promise<Row> {
  const row = await db
    .selectFrom('queue_jobs')
    .selectAll()
    .where('id', '=', lease.jobId)
    .forUpdate()
    .executeTakeFirst();
  return checkHeldRow(operation, lease, row);
}

export function createQueueRepository(context: QueryContext<DB>): QueueRepository {
  const now = () => context.clock.now();

  /** Leases the given candidate rows (already locked) or dead-letters the exhausted ones. */
  async function leaseRows(
    db: Db,
    candidates: readonly LeaseCandidate[],
    workerId: string,
    leaseMs: number,
  ): Promise<LeasedJob[]> {
    const nowMs = now();
    const at = msAsDate(nowMs);
    const exhausted = candidates.filter((row) => row.attempts >= row.max_attempts);
    const leasable = candidates.filter((row) => row.attempts < row.max_attempts);
    for (const row of exhausted) {
      const reason = lastAttemptReason(row);
      await db
        .updateTable('queue_jobs')
        .set(deadLetterColumns(reason, at))
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
        detail: takeOverDetail(candidates.find((c) => c.id === row.id)),
      })),
    );
    return rows.map(leased);
  }

  return {
    async enqueue(job) {
      const operation = 'queue.enqueue';
      const checked = queueChecks.checkEnqueue(operation, job);
      const { queue, idempotencyKey, payloadJson } = checked;
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const at = msAsDate(now());
          const inserted = await tx.db
            .insertInto('queue_jobs')
            .values(newJobColumns(checked, at))
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
            .select(sql<boolean>`payload = ${payloadJson}::jsonb`.as('same_payload'))
            .where('queue', '=', queue)
            .where('idempotency_key', '=', idempotencyKey)
            .executeTakeFirst();
          if (!stored)
            throw new StoreNotFoundError(operation, 'queue job', `${queue}/${idempotencyKey}`);
          if (!stored.same_payload) throw idempotencyMismatch(operation, stored.id, checked);
          const { same_payload: _same, ...row } = stored;
          return { job: toQueueJob(row), created: false };
        }),
      );
    },

    async dequeue(options) {
      const operation = 'queue.dequeue';
      const { queues, workerId, leaseMs, limit } = queueChecks.checkDequeue(operation, options);
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
      const { id, workerId, leaseMs } = queueChecks.checkLeaseJob(operation, jobId, options);
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
      const { checked, leaseMs } = queueChecks.checkExtendLeases(operation, leases, options);
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
        return splitLeases(checked, new Set(rows.map((row) => row.id)));
      });
    },

    async checkpoint(lease, progress) {
      const operation = 'queue.checkpoint';
      const { held, progressJson } = queueChecks.checkCheckpoint(operation, lease, progress);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set({ progress: progressJson, updated_at: at })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [heldEvent(held, 'checkpointed', row.attempts)]);
          return toQueueJob(row);
        }),
      );
    },

    async ack(lease, options = {}) {
      const operation = 'queue.ack';
      const { held, resultJson } = queueChecks.checkAck(operation, lease, options);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set({
              status: 'done',
              leased_by: null,
              result: resultJson,
              finished_at: at,
              updated_at: at,
            })
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [heldEvent(held, 'acked', row.attempts)]);
          return toQueueJob(row);
        }),
      );
    },

    async retry(lease, options) {
      const operation = 'queue.retry';
      const { held, error, delayMs } = queueChecks.checkRetry(operation, lease, options);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const row = await heldRow(tx.db, operation, held);
          const nowMs = now();
          const at = msAsDate(nowMs);
          if (row.attempts >= row.max_attempts) {
            const reason = gaveUpReason(row.attempts, error);
            const failed = await tx.db
              .updateTable('queue_jobs')
              .set({ ...deadLetterColumns(reason, at), last_error: error })
              .where('id', '=', held.jobId)
              .returningAll()
              .executeTakeFirstOrThrow();
            await logEvents(tx.db, at, [heldEvent(held, 'deadLettered', failed.attempts, reason)]);
            return { job: toQueueJob(failed), deadLettered: true };
          }
          const wait = retryDelayMs(row, delayMs);
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
          await logEvents(tx.db, at, [heldEvent(held, 'retried', ready.attempts, error)]);
          return { job: toQueueJob(ready), deadLettered: false };
        }),
      );
    },

    async deadLetter(lease, options) {
      const operation = 'queue.deadLetter';
      const { held, reason } = queueChecks.checkDeadLetter(operation, lease, options);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await heldRow(tx.db, operation, held);
          const at = msAsDate(now());
          const row = await tx.db
            .updateTable('queue_jobs')
            .set(deadLetterColumns(reason, at))
            .where('id', '=', held.jobId)
            .returningAll()
            .executeTakeFirstOrThrow();
          await logEvents(tx.db, at, [heldEvent(held, 'deadLettered', row.attempts, reason)]);
          return toQueueJob(row);
        }),
      );
    },

    async releaseLeases(options) {
      const operation = 'queue.releaseLeases';
      const workerId = queueChecks.checkReleaseLeases(operation, options);
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
          await logEvents(tx.db, at, rowEvents(rows, 'released', workerId));
          return rows.length;
        }),
      );
    },

    async wake(options) {
      const operation = 'queue.wake';
      const { groupKey, queues } = queueChecks.checkWake(operation, options);
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
          await logEvents(tx.db, at, rowEvents(rows, 'woken'));
          return rows.length;
        }),
      );
    },

    async get(jobId) {
      const operation = 'queue.get';
      const id = queueChecks.checkJobId(operation, jobId);
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
      const { name, key } = queueChecks.checkJobKey(operation, queue, idempotencyKey);
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
      const { limit, queue, status, groupKey, afterId } = queueChecks.checkList(operation, options);
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
            stats = emptyQueueStats(row.queue);
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
      const queues = queueChecks.checkNextVisibleAtMs(operation, options);
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
      const { limit, jobId, afterId } = queueChecks.checkEvents(operation, options);
      return runQuery(operation, async () => {
        let query = context.db.selectFrom('queue_job_events').selectAll().where('id', '>', afterId);
        if (jobId !== undefined) query = query.where('job_id', '=', jobId);
        const rows = await query.orderBy('id').limit(limit).execute();
        return rows.map(toQueueJobEvent);
      });
    },

    async purgeFinished(options) {
      const operation = 'queue.purgeFinished';
      const { before, limit } = queueChecks.checkPurgeFinished(operation, options);
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
