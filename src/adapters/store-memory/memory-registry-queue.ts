import * as queueChecks from '../../store/registry/queue-checks.ts';
import {
  deadLetterColumns,
  gaveUpReason,
  heldEvent,
  holdsLease,
  idempotencyMismatch,
  type LeasedJob,
  lastAttemptReason,
  newJobColumns,
  type QueueRepository,
  retryDelayMs,
  rowEvents,
  splitLeases,
  takeOverDetail,
} from '../../store/registry/queue-jobs.ts';
import { toQueueJobEvent } from '../../store/registry/queue-log.ts';
import { storedMs } from '../../store/stored-values.ts';
import {
  asJsonb,
  byId,
  heldRow,
  isAvailable,
  type JobRow,
  logEvents,
  queueStats,
  sameJson,
  toLeasedRecord,
  toRecord,
  update,
} from './memory-registry-queue-rows.ts';
import { type MemoryRegistryContext, queueJobKey } from './memory-registry-tables.ts';

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
      const reason = lastAttemptReason(row);
      update(tables, row, deadLetterColumns(reason, at));
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
        detail: takeOverDetail(before),
      })),
    );
    return rows.map(toLeasedRecord);
  }

  return {
    async enqueue(job) {
      const operation = 'queue.enqueue';
      const checked = queueChecks.checkEnqueue(operation, job);
      const { queue, idempotencyKey } = checked;
      const payload = asJsonb(checked.payloadJson);
      return run(operation, () => {
        // INSERT … ON CONFLICT DO NOTHING draws the id before it meets the conflict.
        const id = tables.sequences.queueJobId++;
        const key = queueJobKey(queue, idempotencyKey);
        const storedId = tables.queueJobIdByKey.get(key);
        const stored = storedId === undefined ? undefined : tables.queueJobs.get(storedId);
        if (stored) {
          if (!sameJson(stored.payload, payload)) {
            throw idempotencyMismatch(operation, stored.id, checked);
          }
          return { job: toRecord(stored), created: false };
        }
        const at = new Date(clock.now());
        // The columns' defaults, as in the schema.
        const row: JobRow = {
          id,
          ...newJobColumns(checked, at),
          payload,
          attempts: 0,
          leased_by: null,
          progress: null,
          result: null,
          last_error: null,
          dead_letter_reason: null,
          finished_at: null,
        };
        tables.queueJobs.set(id, row);
        tables.queueJobIdByKey.set(key, id);
        logEvents(tables, at, [{ jobId: id, kind: 'enqueued', attempt: 0 }]);
        return { job: toRecord(row), created: true };
      });
    },

    async dequeue(options) {
      const operation = 'queue.dequeue';
      const { queues, workerId, leaseMs, limit } = queueChecks.checkDequeue(operation, options);
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
      const { id, workerId, leaseMs } = queueChecks.checkLeaseJob(operation, jobId, options);
      return run(operation, () => {
        const row = tables.queueJobs.get(id);
        const candidates = row && isAvailable(row, clock.now()) ? [row] : [];
        const [job] = leaseRows(candidates, workerId, leaseMs);
        return job;
      });
    },

    async extendLeases(leases, options) {
      const operation = 'queue.extendLeases';
      const { checked, leaseMs } = queueChecks.checkExtendLeases(operation, leases, options);
      if (checked.length === 0) return { held: [], lost: [] };
      return run(operation, () => {
        const nowMs = clock.now();
        const extended = new Set<number>();
        for (const lease of checked) {
          const row = tables.queueJobs.get(lease.jobId);
          if (!row || !holdsLease(row, lease)) continue;
          update(tables, row, {
            visible_at: new Date(nowMs + leaseMs),
            updated_at: new Date(nowMs),
          });
          extended.add(row.id);
        }
        // By job id, as the SQL version reports what its UPDATE … RETURNING id touched.
        return splitLeases(checked, extended);
      });
    },

    async checkpoint(lease, progress) {
      const operation = 'queue.checkpoint';
      const { held, progressJson } = queueChecks.checkCheckpoint(operation, lease, progress);
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, { progress: asJsonb(progressJson), updated_at: at });
        logEvents(tables, at, [heldEvent(held, 'checkpointed', row.attempts)]);
        return toRecord(row);
      });
    },

    async ack(lease, options = {}) {
      const operation = 'queue.ack';
      const { held, resultJson } = queueChecks.checkAck(operation, lease, options);
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, {
          status: 'done',
          leased_by: null,
          result: resultJson === null ? null : asJsonb(resultJson),
          finished_at: at,
          updated_at: at,
        });
        logEvents(tables, at, [heldEvent(held, 'acked', row.attempts)]);
        return toRecord(row);
      });
    },

    async retry(lease, options) {
      const operation = 'queue.retry';
      const { held, error, delayMs } = queueChecks.checkRetry(operation, lease, options);
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const nowMs = clock.now();
        const at = new Date(nowMs);
        if (stored.attempts >= stored.max_attempts) {
          const reason = gaveUpReason(stored.attempts, error);
          const failed = update(tables, stored, {
            ...deadLetterColumns(reason, at),
            last_error: error,
          });
          logEvents(tables, at, [heldEvent(held, 'deadLettered', failed.attempts, reason)]);
          return { job: toRecord(failed), deadLettered: true };
        }
        const wait = retryDelayMs(stored, delayMs);
        const ready = update(tables, stored, {
          status: 'ready',
          leased_by: null,
          last_error: error,
          visible_at: new Date(nowMs + wait),
          updated_at: at,
        });
        logEvents(tables, at, [heldEvent(held, 'retried', ready.attempts, error)]);
        return { job: toRecord(ready), deadLettered: false };
      });
    },

    async deadLetter(lease, options) {
      const operation = 'queue.deadLetter';
      const { held, reason } = queueChecks.checkDeadLetter(operation, lease, options);
      return run(operation, () => {
        const stored = heldRow(tables, operation, held);
        const at = new Date(clock.now());
        const row = update(tables, stored, deadLetterColumns(reason, at));
        logEvents(tables, at, [heldEvent(held, 'deadLettered', row.attempts, reason)]);
        return toRecord(row);
      });
    },

    async releaseLeases(options) {
      const operation = 'queue.releaseLeases';
      const workerId = queueChecks.checkReleaseLeases(operation, options);
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
        logEvents(tables, at, rowEvents(rows, 'released', workerId));
        return rows.length;
      });
    },

    async wake(options) {
      const operation = 'queue.wake';
      const { groupKey, queues } = queueChecks.checkWake(operation, options);
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
        logEvents(tables, at, rowEvents(rows, 'woken'));
        return rows.length;
      });
    },

    async get(jobId) {
      const operation = 'queue.get';
      const id = queueChecks.checkJobId(operation, jobId);
      return run(operation, () => {
        const row = tables.queueJobs.get(id);
        return row ? toRecord(row) : undefined;
      });
    },

    async getByKey(queue, idempotencyKey) {
      const operation = 'queue.getByKey';
      const { name, key } = queueChecks.checkJobKey(operation, queue, idempotencyKey);
      return run(operation, () => {
        const id = tables.queueJobIdByKey.get(queueJobKey(name, key));
        const row = id === undefined ? undefined : tables.queueJobs.get(id);
        return row ? toRecord(row) : undefined;
      });
    },

    async list(options) {
      const operation = 'queue.list';
      const { limit, queue, status, groupKey, afterId } = queueChecks.checkList(operation, options);
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
      const queues = queueChecks.checkNextVisibleAtMs(operation, options);
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
      const { limit, jobId, afterId } = queueChecks.checkEvents(operation, options);
      return run(operation, () =>
        [...tables.queueJobEvents.values()]
          .filter((row) => row.id > afterId && (jobId === undefined || row.job_id === jobId))
          .sort(byId)
          .slice(0, limit)
          .map(toQueueJobEvent),
      );
    },

    async purgeFinished(options) {
      const operation = 'queue.purgeFinished';
      const { before, limit } = queueChecks.checkPurgeFinished(operation, options);
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
        for (const id of ids) {
          const row = tables.queueJobs.get(id);
          if (row) tables.queueJobIdByKey.delete(queueJobKey(row.queue, row.idempotency_key));
          tables.queueJobs.delete(id);
        }
        return ids.size;
      });
    },
  };
}
