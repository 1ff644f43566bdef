import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { isAddress, isHex } from 'viem';
import type { Aggregator } from '../../aggregator/aggregator.ts';
import { ProofRequestError, type ProofRequestErrorCode } from '../../aggregator/errors.ts';
import { parseProofSubmission } from '../../aggregator/proof-query.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Network } from '../../ports/network.ts';
import type { RegistryStore } from '../../store/registry/registry-store.ts';
import { toJson } from './json.ts';

export interface RegistryApiDeps {
  aggregator: Aggregator;
  store: RegistryStore;
  network: Network;
  log: Logger;
}

export interface RegistryApiOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes?: number;
}

export interface RegistryApi {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `http://host:port` once started. */
  url(): string;
  /** For in-process tests (`inject`). */
  readonly server: FastifyInstance;
}

const STATUS_BY_CODE: Record<ProofRequestErrorCode, number> = {
  INVALID_REQUEST: 400,
  UNKNOWN_CHAIN: 400,
  POINT_IN_FUTURE: 400,
  NO_HISTORY: 404,
  NOT_READY: 503,
  CHAIN_UNAVAILABLE: 503,
  OVERLOADED: 503,
  DELIVERY_UNAVAILABLE: 400,
};

function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  field?: string,
) {
  return reply.code(status).send({ error: { code, message, ...(field ? { field } : {}) } });
}

/**
 * The registry's HTTP JSON API (SPEC §5): proof requests for users, and read-only views of
 * operators, epochs and the network. Bad input is a 4xx naming the field.
 *
 * `POST /v1/proofs` takes the query plus optional deliveries (`callbackUrl`, `submitToChainId`)
 * and answers 202 with the task id once the task is in the durable queue (200 when the same
 * request already had a task); `GET /v1/proofs/:taskId` shows status, proof and deliveries.
 */
export function createRegistryApi(
  deps: RegistryApiDeps,
  options: RegistryApiOptions = {},
): RegistryApi {
  const { aggregator, store, network } = deps;
  const log = deps.log.child('http');
  const server = Fastify({ bodyLimit: options.maxBodyBytes ?? 16 * 1024, logger: false });
  let address = '';

  server.setErrorHandler(
    (error: { statusCode?: number; message: string; code?: string }, _request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) log.error('request failed', { error: error.message });
      return sendError(
        reply,
        status,
        error.code ?? 'INTERNAL',
        status >= 500 ? 'internal error' : error.message,
      );
    },
  );

  server.post('/v1/proofs', async (request, reply) => {
    try {
      const { query, deliveries } = parseProofSubmission(request.body);
      // Resolves once the task (and its deliveries) are stored: 202 means it will not be lost.
      const outcome = await aggregator.requestProof(query, deliveries);
      return reply.code(outcome.created ? 202 : 200).send(toJson(outcome));
    } catch (error) {
      if (error instanceof ProofRequestError) {
        if (error.retryAfterSec !== undefined)
          reply.header('retry-after', String(error.retryAfterSec));
        return sendError(reply, STATUS_BY_CODE[error.code], error.code, error.message, error.field);
      }
      throw error;
    }
  });

  server.get<{ Params: { taskId: string } }>('/v1/proofs/:taskId', async (request, reply) => {
    const { taskId } = request.params;
    if (!isHex(taskId) || taskId.length !== 66) {
      return sendError(
        reply,
        400,
        'INVALID_REQUEST',
        `taskId: expected 32 bytes of 0x hex, got ${taskId}`,
        'taskId',
      );
    }
    const view = await aggregator.getProof(taskId);
    if (!view) return sendError(reply, 404, 'NOT_FOUND', `no task ${taskId}`);
    return toJson(view);
  });

  server.get('/v1/operators', async () => toJson({ operators: await store.operators.list() }));

  server.get<{ Params: { address: string } }>('/v1/operators/:address', async (request, reply) => {
    const { address: operator } = request.params;
    if (!isAddress(operator, { strict: false })) {
      return sendError(
        reply,
        400,
        'INVALID_REQUEST',
        `address: expected a 20-byte 0x address, got ${operator}`,
        'address',
      );
    }
    const record = await store.operators.get(operator);
    if (!record) return sendError(reply, 404, 'NOT_FOUND', `no registered operator ${operator}`);
    return toJson(record);
  });

  const epochView = async (epoch: number) => {
    const state = await store.epochStates.get(epoch);
    if (!state) return undefined;
    return toJson({ ...state, operators: await store.epochOperators.list(epoch) });
  };

  server.get('/v1/epochs/current', async (_request, reply) => {
    const latest = await store.epochStates.getLatest();
    if (!latest) return sendError(reply, 503, 'NOT_READY', 'no epoch has been advanced yet');
    return epochView(latest.epoch);
  });

  server.get<{ Params: { epoch: string } }>('/v1/epochs/:epoch', async (request, reply) => {
    const { epoch } = request.params;
    if (!/^\d{1,10}$/.test(epoch) || Number(epoch) > 2 ** 32 - 1) {
      return sendError(
        reply,
        400,
        'INVALID_REQUEST',
        `epoch: expected a uint32, got ${epoch}`,
        'epoch',
      );
    }
    const view = await epochView(Number(epoch));
    if (!view) return sendError(reply, 404, 'NOT_FOUND', `no state for epoch ${epoch}`);
    return view;
  });

  server.get('/v1/network', async () => {
    const [counts, latest] = await Promise.all([
      store.operators.countByStatus(),
      store.epochStates.getLatest(),
    ]);
    return toJson({
      peerId: network.peerId,
      listenAddresses: network.listenAddresses(),
      connectedPeers: network.connectedPeers().length,
      currentEpoch: latest?.epoch ?? null,
      operatorsByStatus: counts,
      liveTasks: aggregator.liveTaskCount(),
      queues: await aggregator.queueStats(),
    });
  });

  return {
    server,
    async start() {
      address = await server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
      log.info('HTTP API listening', { url: address });
    },
    async stop() {
      await server.close();
    },
    url: () => address,
  };
}
