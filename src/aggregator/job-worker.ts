import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { StoreConflictError } from '../store/errors.ts';
import type { LeasedJob, QueueRepository } from '../store/registry/queue-jobs.ts';
import { JobPayloadError } from './errors.ts';

/** How one queue's jobs are run. */
export interface JobHandler {
  queue: string;
  /** The visibility timeout of a lease on this queue. */
  leaseMs: number;
  /** Jobs of this queue handled at once; `handle` calls in flight count against it. */
  concurrency: number;
  /** Further room, e.g. the aggregator's live-task bound (default unlimited). */
  capacity?(): number;
  /**
   * Runs one leased job; it acks, retries or dead-letters it (now, or later for a collection).
   * A throw retries the job with the error as its last error. `signal` aborts when the worker
   * stops: a handler waiting on something (a receipt) should give the job back then.
   */
  handle(job: LeasedJob, signal: AbortSignal): Promise<void>;
  /** Called after the worker dead-lettered one of this queue's jobs (unreadable, or out of attempts). */
  onDeadLetter?(job: LeasedJob, reason: string): Promise<void>;
}

export interface JobWorker {
  start(): void;
  /** Stops leasing and waits for the `handle` calls in flight. */
  stop(): Promise<void>;
  /** Something was enqueued or capacity freed: dequeue now instead of at the next poll. */
  notify(): void;
  /** Runs a job leased elsewhere (the enqueuer claimed it) as if this worker had dequeued it. */
  run(job: LeasedJob): Promise<void>;
}

/** Jobs leased per dequeue at most. */
const MAX_BATCH = 32;

/**
 * The consumer side of the job queue: a loop that leases available jobs of every handled queue
 * (up to each queue's free room), runs them, and sleeps on the Clock until notified or the poll
 * interval passes (jobs enqueued by another node, retries whose backoff ended, leases that ran
 * out). Failures of the loop itself are logged and retried at the next poll.
 */
export function createJobWorker(
  deps: { queue: QueueRepository; clock: Clock; log: Logger },
  options: { workerId: string; pollIntervalMs: number; handlers: readonly JobHandler[] },
): JobWorker {
  const { queue, clock } = deps;
  const log = deps.log.child('jobs');
  const byQueue = new Map(options.handlers.map((handler) => [handler.queue, handler]));
  const inFlight = new Map<string, Set<Promise<void>>>(
    options.handlers.map((handler) => [handler.queue, new Set()]),
  );
  let stopping: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let wake: AbortController | undefined;
  let notified = false;

  const roomFor = (handler: JobHandler) => {
    const busy = inFlight.get(handler.queue)?.size ?? 0;
    return Math.min(
      MAX_BATCH,
      handler.concurrency - busy,
      handler.capacity ? handler.capacity() : Number.POSITIVE_INFINITY,
    );
  };

  function run(job: LeasedJob): Promise<void> {
    const handler = byQueue.get(job.queue);
    if (!handler) return Promise.resolve();
    const running = inFlight.get(job.queue) ?? new Set<Promise<void>>();
    const work = (async () => {
      try {
        await handler.handle(job, stopping?.signal ?? AbortSignal.abort());
      } catch (error) {
        await giveBack(job, error);
      }
    })();
    running.add(work);
    void work.finally(() => {
      running.delete(work);
      notify();
    });
    return work;
  }

  async function giveBack(job: LeasedJob, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    try {
      const { deadLettered, job: after } =
        error instanceof JobPayloadError
          ? {
              deadLettered: true,
              job: await queue.deadLetter(job.lease, { reason: message }),
            }
          : await queue.retry(job.lease, { error: message });
      if (deadLettered) {
        const reason = after.deadLetterReason ?? message;
        log.warn('job dead-lettered', { queue: job.queue, jobId: job.id, reason });
        await byQueue.get(job.queue)?.onDeadLetter?.(job, reason);
      } else {
        log.info('job failed; retrying', {
          queue: job.queue,
          jobId: job.id,
          attempt: job.attempts,
          error: message,
        });
      }
    } catch (retryError) {
      if (retryError instanceof StoreConflictError) return; // the lease moved on: not ours to retry
      log.error('could not give a failed job back; its lease will run out', {
        queue: job.queue,
        jobId: job.id,
        error: String(retryError),
      });
    }
  }

  async function poll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      notified = false;
      let leased = 0;
      try {
        for (const handler of options.handlers) {
          const room = roomFor(handler);
          if (room <= 0 || signal.aborted) continue;
          const jobs = await queue.dequeue({
            queues: [handler.queue],
            workerId: options.workerId,
            leaseMs: handler.leaseMs,
            limit: room,
          });
          leased += jobs.length;
          for (const job of jobs) {
            if (job.attempts > 1) {
              log.info('job taken up again', {
                queue: job.queue,
                jobId: job.id,
                attempt: job.attempts,
              });
            }
            void run(job);
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        log.warn('dequeue failed; retrying at the next poll', { error: String(error) });
      }
      if (leased > 0 || notified || signal.aborted) continue;
      wake = new AbortController();
      const both = AbortSignal.any([signal, wake.signal]);
      await clock.sleep(options.pollIntervalMs, { signal: both }).catch(() => {});
      wake = undefined;
    }
  }

  function notify(): void {
    notified = true;
    wake?.abort();
  }

  return {
    start() {
      if (loop) return;
      stopping = new AbortController();
      loop = poll(stopping.signal);
    },
    async stop() {
      stopping?.abort();
      wake?.abort();
      await loop;
      loop = undefined;
      for (const running of inFlight.values()) await Promise.all([...running]);
    },
    notify,
    run,
  };
}
