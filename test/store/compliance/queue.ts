import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  StoreConflictError,
  StoreInputError,
  StoreNotFoundError,
} from '../../../src/store/errors.ts';
import {
  type JobLease,
  type JobStatus,
  MAX_JOB_PAYLOAD_BYTES,
} from '../../../src/store/registry/queue-jobs.ts';
import { replayQueueEvents } from '../../../src/store/registry/queue-log.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import type { ComplianceContext } from '../compliance.ts';
import { createQueryCounter, START_MS } from '../harness.ts';

const W1 = 'worker-1';
const W2 = 'worker-2';

/** Every job's state from the table, to compare with the write log's replay. */
async function tableState(store: RegistryStore) {
  const jobs = await store.queue.list({ limit: 10_000 });
  return new Map(
    jobs.map((job) => [
      job.id,
      { jobId: job.id, status: job.status, attempts: job.attempts, leasedBy: job.leasedBy },
    ]),
  );
}

async function replayedState(store: RegistryStore) {
  return replayQueueEvents(await store.queue.events({ limit: 10_000 }));
}

export function describeQueue(context: ComplianceContext): void {
  describe('job queue', () => {
    test('behavior: enqueue is idempotent per key; a different payload under the same key is a conflict', async () => {
      const { store } = await context.openRegistry();
      const first = await store.queue.enqueue({
        queue: 'task.collect',
        idempotencyKey: 'k1',
        payload: { taskId: '0x01', n: 1 },
        groupKey: 'g1',
      });
      expect(first.created).toBe(true);
      expect(first.job).toMatchObject({
        status: 'ready',
        attempts: 0,
        maxAttempts: 5,
        visibleAtMs: START_MS,
        createdAtMs: START_MS,
        groupKey: 'g1',
        payload: { taskId: '0x01', n: 1 },
      });
      // Key order does not matter: JSON equality, not text equality.
      const again = await store.queue.enqueue({
        queue: 'task.collect',
        idempotencyKey: 'k1',
        payload: { n: 1, taskId: '0x01' },
      });
      expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
      const mismatch = store.queue.enqueue({
        queue: 'task.collect',
        idempotencyKey: 'k1',
        payload: { taskId: '0x02' },
      });
      await expect(mismatch).rejects.toBeInstanceOf(StoreConflictError);
      await expect(mismatch).rejects.toMatchObject({ reason: 'IDEMPOTENCY_MISMATCH' });
      // The same key on another queue is another job.
      const other = await store.queue.enqueue({
        queue: 'delivery.webhook',
        idempotencyKey: 'k1',
        payload: {},
      });
      expect(other.created).toBe(true);
      expect(await store.queue.list({ limit: 10 })).toHaveLength(2);
    });

    test('behavior: dequeue leases the oldest available jobs, never one that is leased or not yet visible', async () => {
      const { store, clock } = await context.openRegistry();
      await store.queue.enqueue({
        queue: 'q',
        idempotencyKey: 'later',
        payload: 1,
        visibleAtMs: START_MS + 5_000,
      });
      await store.queue.enqueue({ queue: 'q', idempotencyKey: 'a', payload: 2 });
      clock.advance(10);
      await store.queue.enqueue({ queue: 'q', idempotencyKey: 'b', payload: 3 });
      await store.queue.enqueue({ queue: 'other', idempotencyKey: 'c', payload: 4 });

      const leased = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 1_000,
        limit: 10,
      });
      expect(leased.map((job) => job.idempotencyKey)).toEqual(['a', 'b']);
      expect(leased[0]).toMatchObject({
        status: 'running',
        attempts: 1,
        leasedBy: W1,
        visibleAtMs: START_MS + 10 + 1_000,
        lease: { attempt: 1, workerId: W1 },
      });
      expect(
        await store.queue.dequeue({ queues: ['q'], workerId: W2, leaseMs: 1_000, limit: 10 }),
      ).toEqual([]);

      clock.advance(5_000);
      const late = await store.queue.dequeue({
        queues: ['q', 'other'],
        workerId: W2,
        leaseMs: 60_000,
        limit: 10,
      });
      // `later` became visible; a and b's leases ran out and W2 takes them over.
      expect(late.map((job) => job.idempotencyKey).sort()).toEqual(['a', 'b', 'c', 'later']);
      expect(late.find((job) => job.idempotencyKey === 'a')).toMatchObject({
        attempts: 2,
        leasedBy: W2,
      });
    });

    test('behavior: a lease that ran out and was taken over cannot be acked; the new holder acks; double ack is refused', async () => {
      const { store, clock } = await context.openRegistry();
      const { job } = await store.queue.enqueue({ queue: 'q', idempotencyKey: 'x', payload: {} });
      const [first] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 100,
        limit: 1,
      });
      if (!first) throw new Error('nothing leased');
      clock.advance(100);
      const [second] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W2,
        leaseMs: 100,
        limit: 1,
      });
      if (!second) throw new Error('nothing leased');
      const stale = store.queue.ack(first.lease);
      await expect(stale).rejects.toMatchObject({ code: 'CONFLICT', reason: 'LEASE_LOST' });
      await expect(stale).rejects.toThrow(
        /attempt 1 by worker-1 is gone; attempt 2 by worker-2 holds it now/,
      );

      const acked = await store.queue.ack(second.lease, { result: { ok: true } });
      expect(acked).toMatchObject({
        status: 'done',
        leasedBy: null,
        result: { ok: true },
        finishedAtMs: START_MS + 100,
      });
      const twice = store.queue.ack(second.lease);
      await expect(twice).rejects.toMatchObject({ reason: 'JOB_FINISHED' });
      await expect(twice).rejects.toThrow(/already ended as done/);
      await expect(store.queue.retry(second.lease, { error: 'late' })).rejects.toMatchObject({
        reason: 'JOB_FINISHED',
      });
      // Nothing lost: the job is still there, done once.
      expect(await store.queue.get(job.id)).toMatchObject({ status: 'done', attempts: 2 });
    });

    test('behavior: an unknown job id is a StoreNotFoundError for every lease call', async () => {
      const { store } = await context.openRegistry();
      const ghost: JobLease = { jobId: 999_999, attempt: 1, workerId: W1 };
      for (const call of [
        () => store.queue.ack(ghost),
        () => store.queue.retry(ghost, { error: 'x' }),
        () => store.queue.deadLetter(ghost, { reason: 'x' }),
        () => store.queue.checkpoint(ghost, {}),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(StoreNotFoundError);
        await expect(call()).rejects.toThrow(/no queue job 999999/);
      }
      expect(await store.queue.get(999_999)).toBeUndefined();
      expect(await store.queue.lease(999_999, { workerId: W1, leaseMs: 10 })).toBeUndefined();
      expect(await store.queue.extendLeases([ghost], { leaseMs: 10 })).toEqual({
        held: [],
        lost: [ghost],
      });
    });

    test('behavior: retry backs off exponentially up to the cap, then dead-letters with the last error', async () => {
      const { store, clock } = await context.openRegistry();
      const { job } = await store.queue.enqueue({
        queue: 'q',
        idempotencyKey: 'r',
        payload: {},
        maxAttempts: 4,
        backoff: { initialMs: 100, maxMs: 250 },
      });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [leased] = await store.queue.dequeue({
          queues: ['q'],
          workerId: W1,
          leaseMs: 10_000,
          limit: 1,
        });
        if (!leased) throw new Error(`attempt ${attempt} not leased`);
        const { job: ready, deadLettered } = await store.queue.retry(leased.lease, {
          error: `boom ${attempt}`,
        });
        expect(deadLettered).toBe(false);
        expect(ready).toMatchObject({
          status: 'ready',
          lastError: `boom ${attempt}`,
          attempts: attempt,
        });
        delays.push(ready.visibleAtMs - clock.now());
        // Not available before its time.
        clock.advance(ready.visibleAtMs - clock.now() - 1);
        expect(
          await store.queue.dequeue({ queues: ['q'], workerId: W1, leaseMs: 10, limit: 1 }),
        ).toEqual([]);
        clock.advance(1);
      }
      expect(delays).toEqual([100, 200, 250]);
      const [last] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 10_000,
        limit: 1,
      });
      if (!last) throw new Error('last attempt not leased');
      const final = await store.queue.retry(last.lease, {
        error: 'HTTP 503 from https://example.test/hook',
      });
      expect(final.deadLettered).toBe(true);
      expect(final.job).toMatchObject({
        status: 'failed',
        attempts: 4,
        deadLetterReason: 'gave up after 4 attempts: HTTP 503 from https://example.test/hook',
      });
      expect((await store.queue.get(job.id))?.status).toBe('failed');
    });

    test('behavior: an explicit dead letter keeps its reason; an explicit retry delay is used as given', async () => {
      const { store, clock } = await context.openRegistry();
      await store.queue.enqueue({ queue: 'q', idempotencyKey: 'd', payload: {} });
      await store.queue.enqueue({ queue: 'q', idempotencyKey: 'e', payload: {} });
      const [d, e] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 1_000,
        limit: 2,
      });
      if (!d || !e) throw new Error('not leased');
      expect(
        await store.queue.deadLetter(d.lease, { reason: 'HTTP 410 Gone: permanent' }),
      ).toMatchObject({
        status: 'failed',
        deadLetterReason: 'HTTP 410 Gone: permanent',
      });
      const { job } = await store.queue.retry(e.lease, { error: 'pending', delayMs: 7_000 });
      expect(job.visibleAtMs).toBe(clock.now() + 7_000);
      // A very long error is cut, never refused (refusing would lose the job).
      const [again] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 1,
        limit: 1,
      });
      expect(again).toBeUndefined();
      clock.advance(7_000);
      const [e2] = await store.queue.dequeue({ queues: ['q'], workerId: W1, leaseMs: 1, limit: 1 });
      if (!e2) throw new Error('not leased');
      const long = await store.queue.retry(e2.lease, { error: 'x'.repeat(5_000) });
      expect(long.job.lastError).toHaveLength(1_024);
    });

    test('behavior: when the lease of the last attempt runs out, the job is dead-lettered instead of leased again', async () => {
      const { store, clock } = await context.openRegistry();
      const { job } = await store.queue.enqueue({
        queue: 'q',
        idempotencyKey: 'once',
        payload: {},
        maxAttempts: 1,
      });
      await store.queue.dequeue({ queues: ['q'], workerId: W1, leaseMs: 50, limit: 1 });
      clock.advance(50);
      expect(
        await store.queue.dequeue({ queues: ['q'], workerId: W2, leaseMs: 50, limit: 1 }),
      ).toEqual([]);
      const failed = await store.queue.get(job.id);
      expect(failed).toMatchObject({ status: 'failed', leasedBy: null });
      expect(failed?.deadLetterReason).toMatch(
        /lease of the last attempt \(1 of 1\) held by worker-1 ran out/,
      );
    });

    test('behavior: a restarted worker releases its own leases; lease() claims one job; extendLeases reports lost leases', async () => {
      const { store, clock } = await context.openRegistry();
      const a = await store.queue.enqueue({ queue: 'q', idempotencyKey: 'a', payload: {} });
      const b = await store.queue.enqueue({ queue: 'q', idempotencyKey: 'b', payload: {} });
      const claimed = await store.queue.lease(a.job.id, { workerId: W1, leaseMs: 60_000 });
      expect(claimed).toMatchObject({
        status: 'running',
        lease: { jobId: a.job.id, attempt: 1, workerId: W1 },
      });
      expect(await store.queue.lease(a.job.id, { workerId: W2, leaseMs: 60_000 })).toBeUndefined();
      const [bLeased] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W2,
        leaseMs: 100,
        limit: 5,
      });
      if (!claimed || !bLeased) throw new Error('not leased');
      expect(bLeased.id).toBe(b.job.id);

      clock.advance(50);
      const extended = await store.queue.extendLeases([claimed.lease, bLeased.lease], {
        leaseMs: 1_000,
      });
      expect(extended.held).toHaveLength(2);
      expect((await store.queue.get(b.job.id))?.visibleAtMs).toBe(START_MS + 50 + 1_000);

      expect(await store.queue.releaseLeases({ workerId: W1 })).toBe(1);
      const released = await store.queue.get(a.job.id);
      expect(released).toMatchObject({
        status: 'ready',
        leasedBy: null,
        attempts: 1,
        visibleAtMs: clock.now(),
      });
      const lost = await store.queue.extendLeases([claimed.lease], { leaseMs: 1_000 });
      expect(lost).toEqual({ held: [], lost: [claimed.lease] });
      const [retaken] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 1_000,
        limit: 5,
      });
      expect(retaken).toMatchObject({ id: a.job.id, attempts: 2 });
    });

    test('behavior: progress is checkpointed under the lease and kept across attempts', async () => {
      const { store, clock } = await context.openRegistry();
      await store.queue.enqueue({ queue: 'chain', idempotencyKey: 't', payload: {} });
      const [first] = await store.queue.dequeue({
        queues: ['chain'],
        workerId: W1,
        leaseMs: 100,
        limit: 1,
      });
      if (!first) throw new Error('not leased');
      await store.queue.checkpoint(first.lease, { txHash: '0xabc' });
      clock.advance(100);
      const [second] = await store.queue.dequeue({
        queues: ['chain'],
        workerId: W2,
        leaseMs: 100,
        limit: 1,
      });
      expect(second?.progress).toEqual({ txHash: '0xabc' });
      await expect(store.queue.checkpoint(first.lease, { txHash: '0xdef' })).rejects.toMatchObject({
        reason: 'LEASE_LOST',
      });
    });

    test('behavior: wake makes a group’s delayed jobs available now, and only that group', async () => {
      const { store } = await context.openRegistry();
      const far = START_MS + 60_000;
      await store.queue.enqueue({
        queue: 'hook',
        idempotencyKey: '1',
        payload: {},
        groupKey: 'task-1',
        visibleAtMs: far,
      });
      await store.queue.enqueue({
        queue: 'chain',
        idempotencyKey: '1',
        payload: {},
        groupKey: 'task-1',
        visibleAtMs: far,
      });
      await store.queue.enqueue({
        queue: 'hook',
        idempotencyKey: '2',
        payload: {},
        groupKey: 'task-2',
        visibleAtMs: far,
      });
      expect(await store.queue.nextVisibleAtMs({ queues: ['hook'] })).toBe(far);
      expect(await store.queue.wake({ groupKey: 'task-1', queues: ['hook'] })).toBe(1);
      expect(await store.queue.wake({ groupKey: 'task-1' })).toBe(1);
      expect(await store.queue.wake({ groupKey: 'task-1' })).toBe(0);
      expect(await store.queue.nextVisibleAtMs({ queues: ['hook'] })).toBe(START_MS);
      const leased = await store.queue.dequeue({
        queues: ['hook', 'chain'],
        workerId: W1,
        leaseMs: 10,
        limit: 10,
      });
      expect(leased.map((job) => `${job.queue}/${job.groupKey}`).sort()).toEqual([
        'chain/task-1',
        'hook/task-1',
      ]);
    });

    test('behavior: the status index lists and counts jobs; depth and age come from the injected clock', async () => {
      const { store, clock } = await context.openRegistry();
      for (const key of ['a', 'b', 'c', 'd'])
        await store.queue.enqueue({ queue: 'q', idempotencyKey: key, payload: {} });
      clock.advance(2_000);
      const [a, b, c] = await store.queue.dequeue({
        queues: ['q'],
        workerId: W1,
        leaseMs: 500,
        limit: 3,
      });
      if (!a || !b || !c) throw new Error('not leased');
      await store.queue.ack(a.lease);
      await store.queue.deadLetter(b.lease, { reason: 'bad' });
      clock.advance(1_000);
      const [stats] = await store.queue.stats();
      expect(stats).toEqual({
        queue: 'q',
        ready: 1,
        running: 1,
        done: 1,
        failed: 1,
        readyNow: 1,
        expiredLeases: 1,
        oldestUnfinishedAgeMs: 3_000,
      });
      const byStatus = async (status: JobStatus) =>
        (await store.queue.list({ queue: 'q', status, limit: 10 })).map(
          (job) => job.idempotencyKey,
        );
      expect(await byStatus('ready')).toEqual(['d']);
      expect(await byStatus('running')).toEqual(['c']);
      expect(await byStatus('done')).toEqual(['a']);
      expect(await byStatus('failed')).toEqual(['b']);
      expect(await store.queue.purgeFinished({ finishedBeforeMs: clock.now(), limit: 10 })).toBe(2);
      expect(await store.queue.list({ queue: 'q', limit: 10 })).toHaveLength(2);
    });

    test('behavior: enqueue joins a transaction: rolled back with it, nothing left behind', async () => {
      const { store } = await context.openRegistry();
      await expect(
        store.transaction(async (tx) => {
          await tx.queue.enqueue({ queue: 'q', idempotencyKey: 'tx', payload: {} });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.queue.getByKey('q', 'tx')).toBeUndefined();
      expect(await store.queue.events({ limit: 10 })).toEqual([]);
    });

    test('behavior: bad input is refused before any query, naming the field', async () => {
      const counter = createQueryCounter();
      const { store } = await context.openRegistry({ onQuery: counter.onQuery });
      const before = counter.count();
      const lease: JobLease = { jobId: 1, attempt: 1, workerId: W1 };
      const cases: [string, () => Promise<unknown>][] = [
        [
          'payload',
          () =>
            store.queue.enqueue({
              queue: 'q',
              idempotencyKey: 'big',
              payload: 'x'.repeat(MAX_JOB_PAYLOAD_BYTES),
            }),
        ],
        [
          'payload',
          () =>
            store.queue.enqueue({ queue: 'q', idempotencyKey: 'n', payload: { n: 1n } as never }),
        ],
        [
          'queue',
          () => store.queue.enqueue({ queue: 'Bad Queue', idempotencyKey: 'k', payload: {} }),
        ],
        [
          'idempotencyKey',
          () => store.queue.enqueue({ queue: 'q', idempotencyKey: '', payload: {} }),
        ],
        [
          'maxAttempts',
          () =>
            store.queue.enqueue({ queue: 'q', idempotencyKey: 'k', payload: {}, maxAttempts: 0 }),
        ],
        [
          'backoff.maxMs',
          () =>
            store.queue.enqueue({
              queue: 'q',
              idempotencyKey: 'k',
              payload: {},
              backoff: { initialMs: 10, maxMs: 5 },
            }),
        ],
        [
          'workerId',
          () => store.queue.dequeue({ queues: ['q'], workerId: '', leaseMs: 10, limit: 1 }),
        ],
        [
          'leaseMs',
          () => store.queue.dequeue({ queues: ['q'], workerId: W1, leaseMs: 0, limit: 1 }),
        ],
        ['queues', () => store.queue.dequeue({ queues: [], workerId: W1, leaseMs: 10, limit: 1 })],
        ['lease.jobId', () => store.queue.ack({ ...lease, jobId: -1 })],
        ['lease.attempt', () => store.queue.ack({ ...lease, attempt: 1.5 })],
        ['lease', () => store.queue.ack(undefined as unknown as JobLease)],
        ['delayMs', () => store.queue.retry(lease, { error: 'x', delayMs: 2 * 24 * 3_600_000 })],
        ['progress', () => store.queue.checkpoint(lease, 'x'.repeat(200 * 1024))],
        ['reason', () => store.queue.deadLetter(lease, { reason: '' })],
        ['status', () => store.queue.list({ status: 'pending' as JobStatus, limit: 1 })],
      ];
      for (const [field, call] of cases) {
        const attempt = call();
        await expect(attempt, field).rejects.toBeInstanceOf(StoreInputError);
        await expect(attempt, field).rejects.toMatchObject({ field });
      }
      expect(counter.count()).toBe(before);
      expect(await store.queue.list({ limit: 10 })).toEqual([]);
    });

    test('behavior: the write log replays to exactly the table state (random operation sequences)', async () => {
      const operation = fc.oneof(
        fc.record({ kind: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: 5 }) }),
        fc.record({
          kind: fc.constant('dequeue' as const),
          worker: fc.constantFrom(W1, W2),
          limit: fc.integer({ min: 1, max: 3 }),
        }),
        fc.record({
          kind: fc.constantFrom(
            'ack' as const,
            'retry' as const,
            'deadLetter' as const,
            'checkpoint' as const,
          ),
          pick: fc.nat(),
        }),
        fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.integer({ min: 1, max: 3_000 }),
        }),
        fc.record({
          kind: fc.constantFrom('release' as const, 'wake' as const),
          worker: fc.constantFrom(W1, W2),
        }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(operation, { minLength: 1, maxLength: 25 }),
          async (operations) => {
            const { store, clock } = await context.openRegistry();
            const leases: JobLease[] = [];
            for (const op of operations) {
              switch (op.kind) {
                case 'enqueue':
                  await store.queue.enqueue({
                    queue: 'q',
                    idempotencyKey: `k${op.key}`,
                    payload: { key: op.key },
                    groupKey: `g${op.key % 2}`,
                    maxAttempts: 3,
                    backoff: { initialMs: 100, maxMs: 1_000 },
                  });
                  break;
                case 'dequeue':
                  leases.push(
                    ...(
                      await store.queue.dequeue({
                        queues: ['q'],
                        workerId: op.worker,
                        leaseMs: 1_000,
                        limit: op.limit,
                      })
                    ).map((job) => job.lease),
                  );
                  break;
                case 'advance':
                  clock.advance(op.ms);
                  break;
                case 'release':
                  await store.queue.releaseLeases({ workerId: op.worker });
                  break;
                case 'wake':
                  await store.queue.wake({ groupKey: op.worker === W1 ? 'g0' : 'g1' });
                  break;
                default: {
                  const lease = leases[op.pick % Math.max(leases.length, 1)];
                  if (!lease) break;
                  const call =
                    op.kind === 'ack'
                      ? store.queue.ack(lease)
                      : op.kind === 'retry'
                        ? store.queue.retry(lease, { error: 'e' })
                        : op.kind === 'deadLetter'
                          ? store.queue.deadLetter(lease, { reason: 'r' })
                          : store.queue.checkpoint(lease, { at: clock.now() });
                  // Stale leases are refused with a typed conflict, and change nothing.
                  await call.catch((error: unknown) => {
                    if (!(error instanceof StoreConflictError)) throw error;
                  });
                }
              }
            }
            expect(await replayedState(store)).toEqual(await tableState(store));
          },
        ),
        { numRuns: 25 },
      );
    });
  });
}
