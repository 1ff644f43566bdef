import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openPostgresRegistryStore } from '../../src/adapters/store-postgres/open-postgres-store.ts';
import {
  createPostgresStorePool,
  type PostgresStorePool,
} from '../../src/adapters/store-postgres/postgres-store-pool.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { type ConsumerTestbed, startConsumerTestbed } from './support/consumer-testbed.ts';
import { at, crashAt } from './support/crashes.ts';
import { chainBaseline, checkInvariants, quiescent } from './support/invariants.ts';
import { createRig } from './support/rig.ts';

/**
 * Two aggregators on one Postgres server, each through its own pool (two processes): one dies
 * while collecting; the other takes its jobs over once their leases run out (the visibility
 * timeout), and completes and submits each task once.
 */
const ADMIN_URL =
  process.env['SPOTTED_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const E18 = 10n ** 18n;
const LEASE_MS = 3_000;
let admin: pg.Client;
let database: string;
let bed: ConsumerTestbed;
const pools: PostgresStorePool[] = [];
const stores: RegistryStore[] = [];

async function openStore(clock: Pick<Clock, 'now'>, schema = 'registry'): Promise<RegistryStore> {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const pool = createPostgresStorePool({ connectionString: url.toString(), maxConnections: 4 });
  pools.push(pool);
  const store = await openPostgresRegistryStore({ pool, clock }, { schema });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  database = `spotted_bridge_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  bed = await startConsumerTestbed([E18, E18, E18]);
}, 60_000);

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const pool of pools) await pool.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
  await bed?.stop();
});

describe('two aggregators on one Postgres', () => {
  test('behavior: one dies mid-collection; the other finishes its leased jobs after the visibility timeout', async () => {
    const rig = await createRig({
      openStore,
      operators: bed.operators.map((op) => ({
        address: op.operator,
        signingKey: op.signingKey,
        signer: op.signer,
        weight: op.weight,
      })),
      consumer: () => bed.consumerChain(),
      aggregator: { queue: { collectLeaseMs: LEASE_MS } },
    });
    const baseline = await chainBaseline(bed);
    const a = await rig.start('A', {
      store: await openStore(rig.clock),
      // Dies as the second answer arrives (the first is buffered, not stored): both tasks are
      // mid-collection, neither complete.
      onCall: crashAt(at('response', 'before'), 2),
    });
    const b = await rig.start('B', { store: await openStore(rig.clock) });
    const deliveries = {
      callbackUrl: 'https://client.test/hook',
      submitToChainId: bed.testbed.mainAnvil.chainId,
    };
    const taskIds: Hex[] = [];
    for (const key of [1, 2]) taskIds.push((await a.request(rig.query(key), deliveries)).taskId);
    await rig.runUntil(() => a.life.killed, 'A dies');
    const diedAtMs = rig.clock.now();
    await rig.runUntil(() => quiescent(rig, taskIds), 'B finished both tasks', 30_000);

    const collects = await rig.store.queue.list({ queue: 'task.collect', limit: 10 });
    for (const job of collects) {
      const leases = (await rig.store.queue.events({ jobId: job.id, limit: 100 })).filter(
        (event) => event.kind === 'leased',
      );
      expect(leases.map((event) => event.workerId)).toEqual([
        'aggregator:registry-A',
        'aggregator:registry-B',
      ]);
      // Not before A's lease (renewed until it died) ran out.
      expect(leases[1]?.detail).toMatch(/lease held by aggregator:registry-A ran out/);
      expect((leases[1]?.atMs ?? 0) - diedAtMs).toBeGreaterThan(0);
      expect((leases[1]?.atMs ?? 0) - (leases[0]?.atMs ?? 0)).toBeGreaterThanOrEqual(LEASE_MS);
    }
    expect(rig.ended.filter((event) => event.status === 'completed').map((e) => e.life)).toEqual([
      b.life.id,
      b.life.id,
    ]);
    await checkInvariants({
      rig,
      requested: taskIds.map((taskId) => ({ taskId, ...deliveries })),
      bed,
      baseline,
    });
  }, 60_000);
});

describe('an aggregator that stalls', () => {
  test('behavior: a node whose lease ran out while it stalled drops the task; the new holder completes it, once', async () => {
    const stalling = (clock: Pick<Clock, 'now'>) => openStore(clock, 'stalling');
    const rig = await createRig({
      openStore: stalling,
      operators: bed.operators.map((op) => ({
        address: op.operator,
        signingKey: op.signingKey,
        signer: op.signer,
        weight: op.weight,
      })),
      behaviours: ['silent', 'silent', 'silent'],
      aggregator: {
        round: { responseDeadlineMs: 10_000, expiryMs: 15_000 },
        queue: { collectLeaseMs: LEASE_MS },
      },
    });
    let stalled = true;
    const a = await rig.start('C', {
      store: await stalling(rig.clock),
      onCall: (event) => {
        if (stalled && event.path === 'queue.extendLeases' && event.phase === 'before') {
          throw new Error('injected: database unreachable');
        }
      },
    });
    const b = await rig.start('D', { store: await stalling(rig.clock) });
    const { taskId } = await a.request(rig.query(7));
    // A published round 0 to silent operators; its renewals fail, so its lease runs out.
    await rig.advance(LEASE_MS - 100);
    for (const op of rig.operators) op.behaviour = 'honest';
    await rig.runUntil(
      async () => (await rig.store.tasks.get(taskId))?.status === 'completed',
      'B completes the task',
      10_000,
    );
    stalled = false;
    await rig.runUntil(() => a.aggregator.liveTaskCount() === 0, 'A drops the task', 5_000);
    // Past A's round deadline: had A kept the task, it would count every operator missing.
    await rig.advance(12_000);
    expect(rig.ended).toEqual([{ taskId, status: 'completed', life: b.life.id }]);
    const signers = new Set(
      (await rig.store.avsResponses.get(taskId))?.signers.map((s) => s.operator),
    );
    for (const op of rig.operators) {
      const record = await rig.store.operators.get(op.address);
      expect(record).toMatchObject({
        missing: 0,
        successfulResponseCount: signers.has(op.address) ? 1 : 0,
      });
    }
    expect(
      rig.log.entries.some(
        (entry) =>
          entry.message === 'lease lost: another aggregator collects this task now' &&
          entry.component.startsWith('C#'),
      ),
    ).toBe(true);
  }, 60_000);
});
