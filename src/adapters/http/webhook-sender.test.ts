import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFetchWebhookSender } from './webhook-sender.ts';

let server: Server;
let base: string;
const seen: { path: string; body: string; headers: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({ path: request.url ?? '', body, headers: { ...request.headers } });
      if (request.url === '/ok') response.writeHead(204).end();
      else if (request.url === '/moved') response.writeHead(302, { location: '/ok' }).end();
      else if (request.url === '/slow') setTimeout(() => response.writeHead(200).end(), 2_000);
      else response.writeHead(503).end('busy');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('fetch webhook sender', () => {
  const sender = createFetchWebhookSender();

  test('behavior: posts the body with the headers and returns the status, whatever it is', async () => {
    expect(
      await sender.post(`${base}/ok`, '{"a":1}', {
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
        timeoutMs: 1_000,
      }),
    ).toEqual({ status: 204 });
    expect(seen.at(-1)).toMatchObject({
      path: '/ok',
      body: '{"a":1}',
      headers: { 'idempotency-key': 'k1', 'user-agent': 'spotted-registry' },
    });
    expect(await sender.post(`${base}/busy`, '{}', { headers: {}, timeoutMs: 1_000 })).toEqual({
      status: 503,
    });
  });

  test('behavior: a redirect is returned, not followed', async () => {
    const before = seen.length;
    expect(await sender.post(`${base}/moved`, '{}', { headers: {}, timeoutMs: 1_000 })).toEqual({
      status: 302,
    });
    expect(seen.length).toBe(before + 1);
  });

  test('behavior: no answer in time, or no server, rejects naming the URL and the cause', async () => {
    await expect(
      sender.post(`${base}/slow`, '{}', { headers: {}, timeoutMs: 100 }),
    ).rejects.toThrow(`POST ${base}/slow: no answer within 100 ms`);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      sender.post(`http://127.0.0.1:${port}/x`, '{}', { headers: {}, timeoutMs: 1_000 }),
    ).rejects.toThrow(`POST http://127.0.0.1:${port}/x: ECONNREFUSED`);
  });
});
