import type { Selectable } from 'kysely';
import type { Json, QueueJobs } from '../../store/generated/registry-db.ts';
import {
  checkHeldRow,
  emptyQueueStats,
  JOB_STATUSES,
  type JobLease,
  type JobStatus,
  type LeasedJob,
  leased,
  type NewQueueJobEvent,
  type QueueJob,
  type QueueStats,
  queueJobEventColumns,
  toQueueJob,
} from '../../store/registry/queue-jobs.ts';
import { storedMs, storedOneOf } from '../../store/stored-values.ts';
import type { MemoryRegistryTables } from './memory-registry-tables.ts';

/**
 * Row-level helpers of the memory job queue (memory-registry-queue.ts): JSONB values, records
 * that share nothing with the stored rows, the write log, the lease check and the statistics.
 * Synchronous: call them inside a `run`.
 */

export type JobRow = Selectable<QueueJobs>;

export const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;

/**
 * The value a JSONB column gives back for the JSON text `checks.json` produced: objects with
 * their keys in JSONB's order (shorter first, then bytewise), as the SQL drivers' `JSON.parse`
 * of the stored text returns them. So payloads read the same from every adapter.
 */
export function asJsonb(text: string): Json {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const entries = Object.entries(value).sort(([a], [b]) => jsonbKeyOrder(a, b));
    // fromEntries defines properties, so a "__proto__" key stays a plain key.
    return Object.fromEntries(entries);
  }) as Json;
}

function jsonbKeyOrder(a: string, b: string): number {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length - right.length || Buffer.compare(left, right);
}

/** JSONB equality (`payload = $1::jsonb`): the same value whatever the key order. */
export function sameJson(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The stored JSON values copied, so callers never hold (and mutate) a stored row's objects. */
function detached(row: JobRow): JobRow {
  return {
    ...row,
    payload: structuredClone(row.payload),
    progress: structuredClone(row.progress),
    result: structuredClone(row.result),
  };
}

export const toRecord = (row: JobRow): QueueJob => toQueueJob(detached(row));
export const toLeasedRecord = (row: JobRow): LeasedJob => leased(detached(row));

/** Appends to the write log, as `logEvents` in queue-jobs.ts: ids in the given order. */
export function logEvents(
  tables: MemoryRegistryTables,
  at: Date,
  events: readonly NewQueueJobEvent[],
): void {
  for (const event of events) {
    const id = tables.sequences.queueJobEventId++;
    tables.queueJobEvents.set(id, { id, ...queueJobEventColumns(event, at) });
  }
}

/** The row of a lease the caller must still hold (`checkHeldRow` in queue-jobs.ts). */
export function heldRow(tables: MemoryRegistryTables, operation: string, lease: JobLease): JobRow {
  return checkHeldRow(operation, lease, tables.queueJobs.get(lease.jobId));
}

/** Replaces a stored row by a changed copy (rows are never changed in place: rollback). */
export function update(
  tables: MemoryRegistryTables,
  row: JobRow,
  changes: Partial<JobRow>,
): JobRow {
  const next = { ...row, ...changes };
  tables.queueJobs.set(row.id, next);
  return next;
}

/** A ready job whose time has come, or a running one whose lease ran out. */
export function isAvailable(row: JobRow, nowMs: number): boolean {
  return (row.status === 'ready' || row.status === 'running') && storedMs(row.visible_at) <= nowMs;
}

/** Per-queue numbers (the SQL groups by queue and status, ordered by queue), at `nowMs`. */
export function queueStats(rows: readonly JobRow[], nowMs: number): QueueStats[] {
  const byQueue = new Map<string, QueueStats>();
  const byName = (a: JobRow, b: JobRow) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0);
  for (const row of [...rows].sort(byName)) {
    let stats = byQueue.get(row.queue);
    if (!stats) {
      stats = emptyQueueStats(row.queue);
      byQueue.set(row.queue, stats);
    }
    const status: JobStatus = storedOneOf(row.status, JOB_STATUSES);
    stats[status] += 1;
    const visible = storedMs(row.visible_at) <= nowMs;
    if (status === 'ready' && visible) stats.readyNow += 1;
    if (status === 'running' && visible) stats.expiredLeases += 1;
    if (status === 'ready' || status === 'running') {
      // As the SQL version: the largest age, never below 0 (its maximum starts at 0).
      const age = nowMs - storedMs(row.created_at);
      stats.oldestUnfinishedAgeMs = Math.max(stats.oldestUnfinishedAgeMs ?? 0, age);
    }
  }
  return [...byQueue.values()];
}
