import Fastify from 'fastify';
import type { Logger } from '../../ports/logger.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import { type HttpListener, listen } from './node-api.ts';

/** `GET /metrics` in the Prometheus text format, on its own port (conventionally 9090). */
export function createMetricsServer(
  deps: { metrics: NodeMetrics; log: Logger },
  options: { host: string; port: number },
): HttpListener {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_request, reply) =>
    reply.header('content-type', deps.metrics.contentType).send(await deps.metrics.render()),
  );
  return listen(server, options, deps.log.child('metrics'), 'metrics');
}
