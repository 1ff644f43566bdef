import { StoreConflictError } from '../../store/errors.ts';
import {
  backoffDelayMs,
  bounded,
  checkLease,
  checkQueueName,
  checkWorkerId,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_ATTEMPTS,
  JOB_STATUSES,
  type LeasedJob,
  MAX_DEQUEUE_BATCH,
  MAX_JOB_ATTEMPTS,
  MAX_JOB_DELAY_MS,
  MAX_JOB_PAYLOAD_BYTES,
  MAX_JOB_PROGRESS_BYTES,
  MAX_LEASE_MS,
  type QueueRepository,
} from '../../store/registry/queue-jobs.ts';
import { storedMs } from '../../store/stored-values.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../../store/validate.ts';
import {
  asJsonb,
  byId,
  heldRow,
  isAvailable,
  type JobRow,
  logEvents,
  queueStats,
  sameJson,
  toEventRecord,
  toLeasedRecord,
  toRecord,
  update,
} from './memory-registry-queue-rows.ts';
import type { MemoryRegistryContext } from './memory-registry-tables.ts';

/**
 * The memory version of the job queue (store/registry/queue-jobs.ts): the same checks, errors,
 * ordering and write log. Each call runs alone, so `FOR UPDATE SKIP LOCKED` becomes picking the
 * same rows in the same order.
 */
export function createMemoryQueueRepository(context: MemoryRegistryContext): QueueRepository {
  const { tables, clock, run } = context;
  const jobs = () => [...tables.queueJobs.values()];

  /** Leases the candidates, or dead-letters those on their last attempt (as `leaseRows`). */
  function leaseRows(
    candidates: readonly JobRow[],
    workerId: string,
    leaseMs: number,
  ): LeasedJob[] {
    const nowMs = clock.now();
    const at = new Date(nowMs);
    for (const row of candidates.filter((c) => c.attempts >= c.max_attempts)) {
      const reason =
        row.status === 'running'
          ? `the lease of the last attempt (${row.attempts} of ${row.max_attempts}) held by ${row.leased_by} ran out`
          : `released on the last attempt (${row.attempts} of ${row.max_attempts})`;
      update(tables, row, {
        status: 'failed',
        leased_by: null,
        dead_letter_reason: reason,
        finished_at: at,
        updated_at: at,
      });
      logEvents(tables, at, [
        { jobId: row.id, kind: 'deadLettered', attempt: row.attempts, detail: reason },
      ]);
    }
    const leasable = candidates.filter((c) => c.attempts < c.max_attempts);
    const rows = leasable.map((row) =>
      update(tables, row, {
        status: 'running',
        attempts: row.attempts + 1,
        visible_at: new Date(nowMs + leaseMs),
        leased_by: workerId,
        updated_at: at,
      }),
    );
    logEvents(
      tables,
      at,
      leasable.map((before) => ({
        jobId: before.id,
        kind: 'leased' as const,
        attempt: before.attempts + 1,
        workerId,
        // A take-over says whose lease ran out.
        detail:
          before.status === 'running' ? `the lease held by ${before.leased_by} ran out` : null,
      })),
    );
    return rows.map(toLeasedRecord);
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
      const payloadText = checks.json('payload', job.payload, MAX_JOB_PAYLOAD_BYTES);
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
      const payload = asJsonb(payloadText);
      return run(operation, () => {
        // INSERT … ON CONFLICT DO NOTHING draws the id before it meets the conflict.
        const id = tables.sequences.queueJobId++;
        const stored = jobs().find(
          (row) => row.queue === queue && row.idempotency_key === idempotencyKey,
        );
        if (stored) {
          if (!sameJson(stored.payload, payload)) {
            throw new StoreConflictError(
              operation,
              'IDEMPOTENCY_MISMATCH',
              `job ${stored.id} has idempotency key ${JSON.stringify(idempotencyKey)} on ${queue} with a different payload`,
            );
          }
          return { job: toRecord(stored), created: false };
        }
        const at = new Date(clock.now());
        const row: JobRow = {
          id,
          queue,
          idempotency_key: idempotencyKey,
          group_key: groupKey,
          payload,
          status: 'ready',
          attempts: 0,
          max_attempts: maxAttempts,
          backoff_initial_ms: initialMs,
          backoff_max_ms: maxMs,
          visible_at: visibleAtMs === undefined ? at : new Date(visibleAtMs),
          leased_by: null,
          progress: null,
          result: null,
          last_error: null,
          dead_letter_reason: null,
          created_at: at,
          updated_at: at,
          finished_at: null,
        };
        tables.queueJobs.set(id, row);
        logEvents(tables, at, [{ jobId: id, kind: 'enqueued', attempt: 0 }]);
        return { job: toRecord(row), created: true };
      });
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
      return run(operation, () => {
        const nowMs = clock.now();
        const candidates = jobs()
          .filter((row) => queues.includes(row.queue) && isAvailable(row, nowMs))
          .sort((a, b) => storedMs(a.visible_at) - storedMs(b.visible_at) || byId(a, b))
          .slice(0, limit);
        return leaseRows(candidates, workerId, leaseMs);
      });
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
      return run(operation, () => {
        const row = tables.queueJobs.get(id);
        const candidates = row && isAvailable(row, clock.now()) ? [row] : [];
        const [job] = leaseRows(candidates, workerId, leaseMs);
        return job;
      });
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
      return run(operation, () => {
        const nowMs = clock.now();
        const extended = new Set<number>();
        for (const lease of checked) {
          const row = tables.queueJobs.get(lease.jobId);
          if (
            row?.status !== 'running' ||
            row.attempts !== lease.attempt ||
            row.leased_by !== lease.workerId
          ) {
            continue;
          }
          update(tables, row, {
            visible_at: new Date(nowMs + leaseMs),
            updated_at: new Date(nowMs),
          });
          extended.add(row.id);
        }
        // By job id, as the SQL version reports what its UPDATE … RETURNING id touched.
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
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, { progress: asJsonb(text), updated_at: at });
        logEvents(tables, at, [
          {
            jobId: held.jobId,
            kind: 'checkpointed',
            attempt: row.attempts,
            workerId: held.workerId,
          },
        ]);
        return toRecord(row);
      });
    },

    async ack(lease, options = {}) {
      const operation = 'queue.ack';
      const checks = inputChecks(operation);
      const held = checkLease(checks, lease);
      const result =
        options.result === undefined
          ? null
          : checks.json('result', options.result, MAX_JOB_PROGRESS_BYTES);
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, {
          status: 'done',
          leased_by: null,
          result: result === null ? null : asJsonb(result),
          finished_at: at,
          updated_at: at,
        });
        logEvents(tables, at, [
          { jobId: held.jobId, kind: 'acked', attempt: row.attempts, workerId: held.workerId },
        ]);
        return toRecord(row);
      });
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
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const nowMs = clock.now();
        const at = new Date(nowMs);
        if (stored.attempts >= stored.max_attempts) {
          const reason = bounded(
            `gave up after ${stored.attempts} attempt${stored.attempts === 1 ? '' : 's'}: ${error}`,
          );
          const failed = update(tables, stored, {
            status: 'failed',
            leased_by: null,
            last_error: error,
            dead_letter_reason: reason,
            finished_at: at,
            updated_at: at,
          });
          logEvents(tables, at, [
            {
              jobId: held.jobId,
              kind: 'deadLettered',
              attempt: failed.attempts,
              workerId: held.workerId,
              detail: reason,
            },
          ]);
          return { job: toRecord(failed), deadLettered: true };
        }
        const wait =
          delayMs ??
          backoffDelayMs(
            { initialMs: stored.backoff_initial_ms, maxMs: stored.backoff_max_ms },
            stored.attempts,
          );
        const ready = update(tables, stored, {
          status: 'ready',
          leased_by: null,
          last_error: error,
          visible_at: new Date(nowMs + wait),
          updated_at: at,
        });
        logEvents(tables, at, [
          {
            jobId: held.jobId,
            kind: 'retried',
            attempt: ready.attempts,
            workerId: held.workerId,
            detail: error,
          },
        ]);
        return { job: toRecord(ready), deadLettered: false };
      });
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
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, {
          status: 'failed',
          leased_by: null,
          dead_letter_reason: reason,
          finished_at: at,
          updated_at: at,
        });
        logEvents(tables, at, [
          {
            jobId: held.jobId,
            kind: 'deadLettered',
            attempt: row.attempts,
            workerId: held.workerId,
            detail: reason,
          },
        ]);
        return toRecord(row);
      });
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
      return run(operation, () => {
        const at = new Date(clock.now());
        const rows = jobs()
          .filter((row) => row.status === 'running' && row.leased_by === workerId)
          .sort(byId)
          .map((row) =>
            update(tables, row, {
              status: 'ready',
              leased_by: null,
              visible_at: at,
              updated_at: at,
            }),
          );
        logEvents(
          tables,
          at,
          rows.map((row) => ({
            jobId: row.id,
            kind: 'released' as const,
            attempt: row.attempts,
            workerId,
          })),
        );
        return rows.length;
      });
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
      return run(operation, () => {
        if (queues?.length === 0) return 0;
        const nowMs = clock.now();
        const at = new Date(nowMs);
        const rows = jobs()
          .filter(
            (row) =>
              row.group_key === groupKey &&
              row.status === 'ready' &&
              storedMs(row.visible_at) > nowMs &&
              (queues === undefined || queues.includes(row.queue)),
          )
          .sort(byId)
          .map((row) => update(tables, row, { visible_at: at, updated_at: at }));
        logEvents(
          tables,
          at,
          rows.map((row) => ({ jobId: row.id, kind: 'woken' as const, attempt: row.attempts })),
        );
        return rows.length;
      });
    },

    async get(jobId) {
      const operation = 'queue.get';
      const id = inputChecks(operation).rowId('jobId', jobId);
      return run(operation, () => {
        const row = tables.queueJobs.get(id);
        return row ? toRecord(row) : undefined;
      });
    },

    async getByKey(queue, idempotencyKey) {
      const operation = 'queue.getByKey';
      const checks = inputChecks(operation);
      const name = checkQueueName(checks, 'queue', queue);
      const key = checks.text('idempotencyKey', idempotencyKey, 256);
      return run(operation, () => {
        const row = jobs().find((job) => job.queue === name && job.idempotency_key === key);
        return row ? toRecord(row) : undefined;
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
      return run(operation, () =>
        jobs()
          .filter(
            (row) =>
              row.id > afterId &&
              (queue === undefined || row.queue === queue) &&
              (status === undefined || row.status === status) &&
              (groupKey === undefined || row.group_key === groupKey),
          )
          .sort(byId)
          .slice(0, limit)
          .map(toRecord),
      );
    },

    async stats() {
      return run('queue.stats', () => queueStats(jobs(), clock.now()));
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
      return run(operation, () => {
        let next: number | undefined;
        for (const row of tables.queueJobs.values()) {
          if (!queues.includes(row.queue) || (row.status !== 'ready' && row.status !== 'running'))
            continue;
          const visibleAtMs = storedMs(row.visible_at);
          if (next === undefined || visibleAtMs < next) next = visibleAtMs;
        }
        return next;
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
      return run(operation, () =>
        [...tables.queueJobEvents.values()]
          .filter((row) => row.id > afterId && (jobId === undefined || row.job_id === jobId))
          .sort(byId)
          .slice(0, limit)
          .map(toEventRecord),
      );
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
      return run(operation, () => {
        const ids = new Set(
          jobs()
            .filter(
              (row) =>
                (row.status === 'done' || row.status === 'failed') &&
                row.finished_at !== null &&
                storedMs(row.finished_at) < before,
            )
            .sort(byId)
            .slice(0, limit)
            .map((row) => row.id),
        );
        if (ids.size === 0) return 0;
        // The log first: its rows reference the jobs.
        for (const event of [...tables.queueJobEvents.values()]) {
          if (ids.has(event.job_id)) tables.queueJobEvents.delete(event.id);
        }
        for (const id of ids) tables.queueJobs.delete(id);
        return ids.size;
      });
    },
  };
}
