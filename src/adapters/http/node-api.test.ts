import { createServer } from 'node:net';
import { describe, expect, test } from 'vitest';
import { createMemoryLogger } from '../logger/memory-logger.ts';
import { createNodeMetrics } from '../metrics/node-metrics.ts';
import { createMetricsServer } from './metrics-server.ts';
import { createNodeApi, HttpListenError, type NodeHealth, type ServiceView } from './node-api.ts';

const log = createMemoryLogger();

function apiWith(state: { health: NodeHealth; services: ServiceView[] }) {
  return createNodeApi(
    { log, health: { health: async () => state.health, services: async () => state.services } },
    { host: '127.0.0.1', port: 0, nodeName: 'test-node', nodeVersion: '1.2.3' },
  );
}

describe('EigenLayer node API', () => {
  test('behavior: /eigen/node names the node, its version and the spec version', async () => {
    const api = apiWith({ health: 'healthy', services: [] });
    const response = await api.server.inject({ url: '/eigen/node' });
    expect(response.json()).toEqual({
      node_name: 'test-node',
      spec_version: 'v0.0.1',
      node_version: '1.2.3',
    });
  });

  test('behavior: health maps to 200, 206 and 503', async () => {
    const state: { health: NodeHealth; services: ServiceView[] } = {
      health: 'partiallyHealthy',
      services: [],
    };
    const api = apiWith(state);
    const status = async () => (await api.server.inject({ url: '/eigen/node/health' })).statusCode;
    expect(await status()).toBe(206);
    state.health = 'healthy';
    expect(await status()).toBe(200);
    state.health = 'unhealthy';
    expect(await status()).toBe(503);
  });

  test('behavior: services list and per-service health, 404 for an unknown id', async () => {
    const services: ServiceView[] = [
      { id: 'database', name: 'database', description: 'store', status: 'Up' },
      { id: 'join', name: 'join', description: 'membership', status: 'Initializing' },
      { id: 'p2p', name: 'p2p', description: 'libp2p', status: 'Down' },
    ];
    const api = apiWith({ health: 'healthy', services });
    expect((await api.server.inject({ url: '/eigen/node/services' })).json()).toEqual({ services });
    const code = async (id: string) =>
      (await api.server.inject({ url: `/eigen/node/services/${id}/health` })).statusCode;
    expect([
      await code('database'),
      await code('join'),
      await code('p2p'),
      await code('nope'),
    ]).toEqual([200, 206, 503, 404]);
  });

  test('behavior: a port in use is an error naming the listener and the port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const api = createNodeApi(
        { log, health: { health: async () => 'healthy', services: async () => [] } },
        { host: '127.0.0.1', port, nodeName: 'n', nodeVersion: 'v' },
      );
      const error = await api.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpListenError);
      expect((error as Error).message).toBe(
        `node API: cannot listen on 127.0.0.1:${port}: the port is already in use (choose another port)`,
      );
    } finally {
      blocker.close();
    }
  });

  test('behavior: the metrics listener serves the Prometheus text format', async () => {
    const metrics = createNodeMetrics({ processMetrics: false });
    metrics.recordTaskEnded('completed', 0.3);
    const server = createMetricsServer({ metrics, log }, { host: '127.0.0.1', port: 0 });
    const response = await server.server.inject({ url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain('spotted_tasks_total{outcome="completed"} 1');
  });
});
