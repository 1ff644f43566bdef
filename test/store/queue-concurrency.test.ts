import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import { openPostgresRegistryStore } from '../../src/adapters/store-postgres/open-postgres-store.ts';
import {
  createPostgresStorePool,
  type PostgresStorePool,
} from '../../src/adapters/store-postgres/postgres-store-pool.ts';
import type { QueueJobEvent } from '../../src/store/registry/queue-log.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';

/**
 * Several workers dequeueing from one Postgres server at the same time, each through its own
 * connection pool (as separate registry processes would): FOR UPDATE SKIP LOCKED must hand every
 * job to exactly one worker, and jobs of a worker that dies must reach another one after the
 * visibility timeout. Wall-clock time: the point is real concurrency.
 */
const ADMIN_URL =
  process.env['SPOTTED_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const clock = createSystemClock();

let admin: pg.Client;
let database: string;
const pools: PostgresStorePool[] = [];
const stores: RegistryStore[] = [];

async function openWorkerStore(schema: string): Promise<RegistryStore> {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const pool = createPostgresStorePool({ connectionString: url.toString(), maxConnections: 3 });
  pools.push(pool);
  const store = await openPostgresRegistryStore({ pool, clock }, { schema });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  database = `spotted_queue_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
});

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const pool of pools) await pool.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
});

const byJob = (events: readonly QueueJobEvent[]) => {
  const map = new Map<number, QueueJobEvent[]>();
  for (const event of events) map.set(event.jobId, [...(map.get(event.jobId) ?? []), event]);
  return map;
};

/** Dequeues and acks until `shared.acked` reaches `total`; returns the job ids it acked. */
async function work(
  store: RegistryStore,
  workerId: string,
  shared: { acked: number; total: number },
  options: { leaseMs: number; dieAfterLeases?: number },
): Promise<{ acked: number[]; leasedThenDied: number[] }> {
  const acked: number[] = [];
  let leases = 0;
  while (shared.acked < shared.total) {
    const jobs = await store.queue.dequeue({
      queues: ['q'],
      workerId,
      leaseMs: options.leaseMs,
      limit: 1 + (leases % 4),
    });
    leases += jobs.length;
    if (jobs.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (options.dieAfterLeases !== undefined && leases >= options.dieAfterLeases) {
      // Dies holding these leases: never acks them.
      return { acked, leasedThenDied: jobs.map((job) => job.id) };
    }
    for (const job of jobs) {
      await store.queue.ack(job.lease);
      acked.push(job.id);
      shared.acked += 1;
    }
  }
  return { acked, leasedThenDied: [] };
}

async function enqueueAll(store: RegistryStore, total: number): Promise<void> {
  for (let n = 0; n < total; n++) {
    await store.queue.enqueue({ queue: 'q', idempotencyKey: `job-${n}`, payload: { n } });
  }
}

describe('queue on a Postgres server: concurrent workers', () => {
  test('behavior: 4 workers drain 300 jobs enqueued while they run; each job is leased once and acked once', async () => {
    const schema = 'concurrent_a';
    const producer = await openWorkerStore(schema);
    const workers = await Promise.all([0, 1, 2, 3].map(() => openWorkerStore(schema)));
    const shared = { acked: 0, total: 300 };
    const [results] = await Promise.all([
      Promise.all(
        workers.map((store, index) => work(store, `w${index}`, shared, { leaseMs: 60_000 })),
      ),
      enqueueAll(producer, shared.total),
    ]);

    const ackedIds = results.flatMap((result) => result.acked);
    expect(ackedIds).toHaveLength(300);
    expect(new Set(ackedIds).size).toBe(300);
    // Real concurrency: more than one worker got work.
    expect(results.filter((result) => result.acked.length > 0).length).toBeGreaterThan(1);
    const events = byJob(await producer.queue.events({ limit: 10_000 }));
    expect(events.size).toBe(300);
    for (const [jobId, log] of events) {
      expect(
        log.map((event) => event.kind),
        `job ${jobId}`,
      ).toEqual(['enqueued', 'leased', 'acked']);
    }
    expect((await producer.queue.stats())[0]).toMatchObject({
      done: 300,
      ready: 0,
      running: 0,
      failed: 0,
    });
  }, 60_000);

  test('behavior: a worker dies holding leases; the others finish its jobs after the visibility timeout, none twice at once', async () => {
    const schema = 'concurrent_b';
    const producer = await openWorkerStore(schema);
    await enqueueAll(producer, 120);
    const workers = await Promise.all([0, 1, 2].map(() => openWorkerStore(schema)));
    const leaseMs = 400;
    const shared = { acked: 0, total: 120 };
    const results = await Promise.all([
      work(workers[0] as RegistryStore, 'dies', shared, { leaseMs, dieAfterLeases: 3 }),
      work(workers[1] as RegistryStore, 'w1', shared, { leaseMs }),
      work(workers[2] as RegistryStore, 'w2', shared, { leaseMs }),
    ]);
    const orphans = results[0].leasedThenDied;
    expect(orphans.length).toBeGreaterThan(0);
    const ackedIds = results.flatMap((result) => result.acked);
    expect(new Set(ackedIds).size).toBe(120);
    expect(ackedIds).toHaveLength(120);

    const events = byJob(await producer.queue.events({ limit: 10_000 }));
    for (const [jobId, log] of events) {
      const leases = log.filter((event) => event.kind === 'leased');
      if (orphans.includes(jobId)) {
        // Leased by the dead worker, then by another only once its lease had run out.
        expect(leases.map((event) => event.workerId)[0]).toBe('dies');
        expect(leases).toHaveLength(2);
        expect((leases[1]?.atMs ?? 0) - (leases[0]?.atMs ?? 0)).toBeGreaterThanOrEqual(leaseMs);
        expect(leases[1]?.detail).toMatch(/lease held by dies ran out/);
      } else {
        expect(leases, `job ${jobId}`).toHaveLength(1);
      }
      expect(log.filter((event) => event.kind === 'acked')).toHaveLength(1);
    }
  }, 60_000);
});
