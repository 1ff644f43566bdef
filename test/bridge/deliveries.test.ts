import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { createRig, makeOperators, type Rig } from './support/rig.ts';

/**
 * Webhook deliveries through the queue: retried with bounded backoff on 5xx and transport
 * errors, dead-lettered with a reason on a refusal or after the last attempt; a job whose payload
 * cannot be read is dead-lettered too, and nothing else is lost.
 */
let pglite: PGlite;
const stores: RegistryStore[] = [];
let schemas = 0;
const HOOK = 'https://client.test/hook';

beforeAll(async () => {
  pglite = await createPglite();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  await pglite?.close();
});

async function newRig(behaviours?: ('honest' | 'silent')[]): Promise<Rig> {
  schemas += 1;
  return createRig({
    openStore: async (clock) => {
      const store = await openPgliteRegistryStore(
        { pglite, clock },
        { schema: `deliveries_${process.pid}_${schemas}` },
      );
      stores.push(store);
      return store;
    },
    operators: makeOperators([1n, 1n, 1n]),
    ...(behaviours ? { behaviours } : {}),
    aggregator: {
      queue: {
        deliveries: { webhook: { maxAttempts: 4, backoff: { initialMs: 400, maxMs: 1_000 } } },
      },
    },
  });
}

async function webhookJob(rig: Rig) {
  const [job] = await rig.store.queue.list({ queue: 'delivery.webhook', limit: 1 });
  return job;
}

describe('webhook deliveries', () => {
  test('behavior: 5xx and transport errors are retried with growing, capped delays until a 2xx', async () => {
    const rig = await newRig();
    rig.webhooks.respond = (_url, attempt) =>
      attempt === 1
        ? 503
        : attempt === 2
          ? new Error('connect ECONNREFUSED')
          : attempt === 3
            ? 500
            : 204;
    const node = await rig.start();
    await node.request(rig.query(1), { callbackUrl: HOOK });
    await rig.runUntil(async () => (await webhookJob(rig))?.status === 'done', 'delivered');
    const times = rig.webhooks.posts.map((post) => post.atMs);
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((time, i) => time - (times[i] ?? 0));
    // Backoff 400, 800, then capped at 1000 (the worker polls every 250 ms: up to that much later).
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    expect(gaps[1]).toBeGreaterThanOrEqual(800);
    expect(gaps[2]).toBeGreaterThanOrEqual(1_000);
    for (const gap of gaps) expect(gap).toBeLessThan(1_000 + 400);
    expect(await webhookJob(rig)).toMatchObject({
      attempts: 4,
      result: { httpStatus: 204 },
      lastError: 'HTTP 500 from https://client.test/hook',
    });
  });

  test('behavior: a 4xx refusal is dead-lettered at once with the reason; the task and its proof stay', async () => {
    const rig = await newRig();
    rig.webhooks.respond = () => 404;
    const node = await rig.start();
    const { taskId } = await node.request(rig.query(1), { callbackUrl: HOOK });
    await rig.runUntil(async () => (await webhookJob(rig))?.status === 'failed', 'dead-lettered');
    expect(await webhookJob(rig)).toMatchObject({
      attempts: 1,
      deadLetterReason: 'HTTP 404 from https://client.test/hook: the receiver refused the delivery',
    });
    const view = await node.aggregator.getProof(taskId);
    expect(view?.status).toBe('completed');
    expect(view?.deliveries).toEqual([
      {
        kind: 'webhook',
        target: HOOK,
        status: 'failed',
        attempts: 1,
        lastError: null,
        failureReason: 'HTTP 404 from https://client.test/hook: the receiver refused the delivery',
        transactionHash: null,
      },
    ]);
  });

  test('behavior: a receiver that keeps failing is dead-lettered after the last attempt, naming the last error', async () => {
    const rig = await newRig();
    rig.webhooks.respond = () => 503;
    const node = await rig.start();
    await node.request(rig.query(1), { callbackUrl: HOOK });
    await rig.runUntil(async () => (await webhookJob(rig))?.status === 'failed', 'dead-lettered');
    expect(rig.webhooks.posts).toHaveLength(4);
    expect((await webhookJob(rig))?.deadLetterReason).toBe(
      'gave up after 4 attempts: HTTP 503 from https://client.test/hook',
    );
  });

  test('behavior: a task that ended failed is delivered as failed', async () => {
    const rig = await newRig(['silent', 'silent', 'silent']);
    const node = await rig.start();
    const { taskId } = await node.request(rig.query(1), { callbackUrl: HOOK });
    await rig.runUntil(async () => (await webhookJob(rig))?.status === 'done', 'delivered', 30_000);
    expect((await rig.store.tasks.get(taskId))?.status).toBe('failed');
    expect(JSON.parse(rig.webhooks.posts[0]?.body ?? '{}')).toMatchObject({
      taskId,
      status: 'failed',
    });
  });

  test('behavior: a job whose payload cannot be read is dead-lettered with the reason; other jobs go on', async () => {
    const rig = await newRig();
    await rig.store.queue.enqueue({
      queue: 'task.collect',
      idempotencyKey: 'broken',
      payload: { taskId: 'not a task id' },
    });
    const node = await rig.start();
    const { taskId } = await node.request(rig.query(1), { callbackUrl: HOOK });
    await rig.runUntil(
      async () => (await rig.store.tasks.get(taskId))?.status === 'completed',
      'the good task completes',
    );
    const broken = await rig.store.queue.getByKey('task.collect', 'broken');
    expect(broken).toMatchObject({
      status: 'failed',
      deadLetterReason: 'task.collect job payload: byTimestamp: missing',
    });
  });
});
