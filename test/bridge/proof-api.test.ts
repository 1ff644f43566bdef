import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRegistryApi, type RegistryApi } from '../../src/adapters/http/registry-api.ts';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { Network } from '../../src/ports/network.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { createRig, type Incarnation, makeOperators, type Rig } from './support/rig.ts';

/**
 * `POST /v1/proofs` on the queue: 202 once the task is durable, delivery fields validated, bad
 * input refused naming the field with nothing stored; `GET /v1/proofs/:id` shows status, proof
 * and deliveries. A node without webhooks or consumers refuses those deliveries.
 */
let pglite: PGlite;
let rig: Rig;
let node: Incarnation;
let api: RegistryApi;
let store: RegistryStore;

beforeAll(async () => {
  pglite = await createPglite();
  rig = await createRig({
    openStore: async (clock) => {
      store = await openPgliteRegistryStore({ pglite, clock }, { schema: 'api' });
      return store;
    },
    operators: makeOperators([1n, 1n, 1n]),
  });
  node = await rig.start('A');
  api = createRegistryApi({
    aggregator: node.aggregator,
    store,
    network: {
      peerId: 'registry-A',
      listenAddresses: () => [],
      connectedPeers: () => [],
    } as unknown as Network,
    log: rig.log,
  });
}, 60_000);

afterAll(async () => {
  await api?.server.close();
  await store?.close();
  await pglite?.close();
});

const post = (payload: unknown) =>
  api.server.inject({
    method: 'POST',
    url: '/v1/proofs',
    headers: { 'content-type': 'application/json' },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

const body = (key: number, extra: Record<string, unknown> = {}) => ({
  chainId: 10,
  targetAddress: rig.query(key).targetAddress,
  key: String(key),
  blockNumber: 500,
  ...extra,
});

async function nothingStored() {
  expect(await store.tasks.listByStatus('pending', { limit: 100 })).toEqual([]);
  expect(await store.queue.list({ limit: 100 })).toEqual([]);
}

describe('proof API on the queue', () => {
  test('behavior: an oversized body is 413 and stores nothing', async () => {
    const response = await post(body(1, { padding: 'x'.repeat(20_000) }));
    expect(response.statusCode).toBe(413);
    await nothingStored();
  });

  test.each([
    ['ftp://client.test/hook', 'callbackUrl'],
    ['https://user:secret@client.test/hook', 'callbackUrl'],
    [`https://client.test/${'a'.repeat(2_100)}`, 'callbackUrl'],
    [42, 'callbackUrl'],
  ])('behavior: callbackUrl %j is a 400 naming the field; nothing stored', async (url, field) => {
    const response = await post(body(1, { callbackUrl: url }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_REQUEST', field } });
    await nothingStored();
  });

  test('behavior: a submission to a chain without a consumer contract is refused; nothing stored', async () => {
    const response = await post(body(1, { submitToChainId: 31337 }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error: { code: 'DELIVERY_UNAVAILABLE', field: 'submitToChainId' },
    });
    expect(response.json().error.message).toMatch(
      /no consumer contract is configured for chain 31337/,
    );
    await nothingStored();
  });

  test('behavior: 202 once the task is stored with its collection job and webhook; the same request again is 200', async () => {
    const first = await post(body(2, { callbackUrl: 'https://client.test/hook' }));
    expect(first.statusCode).toBe(202);
    const { taskId } = first.json() as { taskId: `0x${string}` };
    // Durable before the answer: collection leased and running, the webhook waiting for the end.
    const jobs = await store.queue.list({ groupKey: taskId, limit: 10 });
    expect(jobs.map((job) => [job.queue, job.status])).toEqual([
      ['task.collect', 'running'],
      ['delivery.webhook', 'ready'],
    ]);
    const again = await post(body(2, { callbackUrl: 'https://client.test/hook' }));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ taskId, created: false });
    // The same callback again is the same delivery, not a second one.
    expect(await store.queue.list({ groupKey: taskId, limit: 10 })).toHaveLength(2);

    await rig.runUntil(
      async () => (await store.tasks.get(taskId))?.status === 'completed',
      'the task completes',
    );
    await rig.runUntil(() => rig.webhooks.posts.length === 1, 'the webhook is delivered');
    const view = await api.server.inject({ method: 'GET', url: `/v1/proofs/${taskId}` });
    expect(view.json()).toMatchObject({
      taskId,
      status: 'completed',
      proof: { operators: expect.any(Array) },
      deliveries: [
        {
          kind: 'webhook',
          target: 'https://client.test/hook',
          status: 'delivered',
          attempts: 1,
          failureReason: null,
        },
      ],
    });
    expect(JSON.parse(rig.webhooks.posts[0]?.body ?? '{}')).toMatchObject({
      taskId,
      status: 'completed',
    });
  });

  test('behavior: an unknown task id is 404, a malformed one 400', async () => {
    const unknown = await api.server.inject({
      method: 'GET',
      url: `/v1/proofs/0x${'ab'.repeat(32)}`,
    });
    expect(unknown.statusCode).toBe(404);
    const malformed = await api.server.inject({ method: 'GET', url: '/v1/proofs/0x12' });
    expect(malformed.statusCode).toBe(400);
  });

  test('behavior: while the epochs catch up with the chain, a request is 503 NOT_READY with Retry-After; nothing stored; accepted once caught up', async () => {
    let behind: { advancedEpoch: number; chainEpoch: number } | undefined = {
      advancedEpoch: 1,
      chainEpoch: 3,
    };
    const catching = await rig.start('catching-up', { epochs: { catchingUp: () => behind } });
    const catchingApi = createRegistryApi({
      aggregator: catching.aggregator,
      store,
      network: { peerId: 'registry-C' } as unknown as Network,
      log: rig.log,
    });
    try {
      const refused = await catchingApi.server.inject({
        method: 'POST',
        url: '/v1/proofs',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body(7)),
      });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.json()).toMatchObject({
        error: {
          code: 'NOT_READY',
          message: expect.stringContaining(
            'catching up with the chain’s epochs (epoch 1 advanced; the chain is at epoch 3)',
          ),
        },
      });
      expect(await store.tasks.listByStatus('pending', { limit: 100 })).toEqual([]);
      behind = undefined;
      const accepted = await catching.request(rig.query(7));
      expect(accepted.created).toBe(true);
    } finally {
      await catchingApi.server.close();
      await catching.aggregator.stop();
    }
  });

  test('behavior: a node without a webhook sender refuses callback URLs, naming the field', async () => {
    const bare = await rig.start('bare', { withoutWebhooks: true });
    await expect(
      bare.request(rig.query(9), { callbackUrl: 'https://client.test/hook' }),
    ).rejects.toMatchObject({ code: 'DELIVERY_UNAVAILABLE', field: 'callbackUrl' });
  });
});
