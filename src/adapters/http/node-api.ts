import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../../ports/logger.ts';

/**
 * The EigenLayer AVS node API (the spec eigensdk-go's `nodeapi` implements), on its own port
 * (conventionally 9010):
 * - `GET /eigen/node` → `{ node_name, spec_version, node_version }`
 * - `GET /eigen/node/health` → 200 healthy, 206 partially healthy (starting, joining, a backing
 *   service not up), 503 unhealthy (stopping, or unable to serve)
 * - `GET /eigen/node/services` → `{ services: [{ id, name, description, status }] }` with status
 *   `Up`, `Down` or `Initializing`
 * - `GET /eigen/node/services/:id/health` → 200 Up, 206 Initializing, 503 Down, 404 unknown id
 */

export const NODE_API_SPEC_VERSION = 'v0.0.1';

export type NodeHealth = 'healthy' | 'partiallyHealthy' | 'unhealthy';
export type ServiceStatus = 'Up' | 'Down' | 'Initializing';

export interface ServiceView {
  id: string;
  name: string;
  description: string;
  status: ServiceStatus;
}

export interface NodeHealthSource {
  health(): Promise<NodeHealth>;
  services(): Promise<readonly ServiceView[]>;
}

export interface NodeApiOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  nodeName: string;
  nodeVersion: string;
}

export interface HttpListener {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `http://host:port` once started. */
  url(): string;
  readonly server: FastifyInstance;
}

const HEALTH_STATUS: Record<NodeHealth, number> = {
  healthy: 200,
  partiallyHealthy: 206,
  unhealthy: 503,
};
const SERVICE_STATUS: Record<ServiceStatus, number> = { Up: 200, Initializing: 206, Down: 503 };

export function createNodeApi(
  deps: { health: NodeHealthSource; log: Logger },
  options: NodeApiOptions,
): HttpListener {
  const log = deps.log.child('node-api');
  const server = Fastify({ logger: false });
  server.get('/eigen/node', async () => ({
    node_name: options.nodeName,
    spec_version: NODE_API_SPEC_VERSION,
    node_version: options.nodeVersion,
  }));
  server.get('/eigen/node/health', async (_request, reply) => {
    const health = await deps.health.health();
    return reply.code(HEALTH_STATUS[health]).send();
  });
  server.get('/eigen/node/services', async () => ({ services: await deps.health.services() }));
  server.get<{ Params: { id: string } }>(
    '/eigen/node/services/:id/health',
    async (request, reply) => {
      const service = (await deps.health.services()).find((s) => s.id === request.params.id);
      return reply.code(service ? SERVICE_STATUS[service.status] : 404).send();
    },
  );
  return listen(server, options, log, 'node API');
}

/** Starts a Fastify instance on host:port; a port in use is an error naming it. */
export function listen(
  server: FastifyInstance,
  options: { host: string; port: number },
  log: Logger,
  what: string,
): HttpListener {
  let address = '';
  let listening = false;
  return {
    server,
    async start() {
      try {
        address = await server.listen({ host: options.host, port: options.port });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new HttpListenError(what, options.host, options.port, code, error);
        }
        throw error;
      }
      listening = true;
      log.info(`${what} listening`, { url: address });
    },
    async stop() {
      if (!listening) return;
      listening = false;
      await server.close();
    },
    url: () => address,
  };
}

export class HttpListenError extends Error {
  override readonly name = 'HttpListenError';
  readonly code = 'HTTP_LISTEN_FAILED';
  constructor(what: string, host: string, port: number, reason: string, cause: unknown) {
    const problem =
      reason === 'EADDRINUSE'
        ? 'the port is already in use'
        : reason === 'EACCES'
          ? 'permission denied'
          : 'the address is not available on this machine';
    super(`${what}: cannot listen on ${host}:${port}: ${problem} (choose another port)`, {
      cause,
    });
  }
}
