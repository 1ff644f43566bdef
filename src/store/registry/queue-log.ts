import type { Selectable } from 'kysely';
import type { QueueJobEvents } from '../generated/registry-db.ts';
import { storedMs, storedOneOf } from '../stored-values.ts';
import type { JobStatus } from './queue-jobs.ts';

/** What changed a queue job: one row of `queue_job_events`, the queue's write log. */
export type QueueJobEventKind =
  | 'enqueued'
  | 'leased'
  | 'checkpointed'
  | 'acked'
  | 'retried'
  | 'deadLettered'
  | 'released'
  | 'woken';

export const QUEUE_JOB_EVENT_KINDS: readonly QueueJobEventKind[] = [
  'enqueued',
  'leased',
  'checkpointed',
  'acked',
  'retried',
  'deadLettered',
  'released',
  'woken',
];

export interface QueueJobEvent {
  id: number;
  jobId: number;
  kind: QueueJobEventKind;
  /** The job's attempts after the change. */
  attempt: number;
  /** The worker that made the change, when a worker did. */
  workerId: string | null;
  /** The error of a retry, the reason of a dead letter, … */
  detail: string | null;
  atMs: number;
}

/** A stored `queue_job_events` row as the record both stores return. */
export function toQueueJobEvent(row: Selectable<QueueJobEvents>): QueueJobEvent {
  return {
    id: row.id,
    jobId: row.job_id,
    kind: storedOneOf(row.kind, QUEUE_JOB_EVENT_KINDS),
    attempt: row.attempt,
    workerId: row.worker_id,
    detail: row.detail,
    atMs: storedMs(row.at),
  };
}

/** A job's state as the write log tells it. */
export interface ReplayedJob {
  jobId: number;
  status: JobStatus;
  attempts: number;
  leasedBy: string | null;
}

const STATUS_AFTER: Record<QueueJobEventKind, JobStatus | undefined> = {
  enqueued: 'ready',
  leased: 'running',
  checkpointed: undefined,
  acked: 'done',
  retried: 'ready',
  deadLettered: 'failed',
  released: 'ready',
  woken: undefined,
};

/**
 * Rebuilds every job's status, attempts and lease holder from the write log (events in id
 * order). The store writes each event in the same transaction as the change it describes, so the
 * replay always equals the `queue_jobs` rows; another node can rebuild the queue's state from the
 * log alone, and a test can check the two against each other.
 */
export function replayQueueEvents(events: readonly QueueJobEvent[]): Map<number, ReplayedJob> {
  const jobs = new Map<number, ReplayedJob>();
  for (const event of events) {
    const current = jobs.get(event.jobId);
    if (!current) {
      if (event.kind !== 'enqueued') {
        throw new Error(
          `queue log: event ${event.id} (${event.kind}) before job ${event.jobId} was enqueued`,
        );
      }
      jobs.set(event.jobId, { jobId: event.jobId, status: 'ready', attempts: 0, leasedBy: null });
      continue;
    }
    const status = STATUS_AFTER[event.kind] ?? current.status;
    jobs.set(event.jobId, {
      jobId: event.jobId,
      status,
      attempts: event.attempt,
      leasedBy: status === 'running' ? event.workerId : null,
    });
  }
  return jobs;
}
