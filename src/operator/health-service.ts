import type { Address } from 'viem';
import type { Logger } from '../ports/logger.ts';
import { type Network, PROTOCOLS } from '../ports/network.ts';
import {
  decodeHealthRequest,
  encodeHealthResponse,
  MAX_HEALTH_REQUEST_BYTES,
} from '../wire/health.ts';

/** `starting` until joined and an epoch state adopted; `ok` after; the final join refusal when refused. */
export type OperatorHealthStatus = 'starting' | 'ok' | 'suspended' | 'deregistered';

export interface OperatorHealth {
  readonly status: OperatorHealthStatus;
  /** The adopted epoch; 0 before any. */
  readonly epoch: number;
}

export interface HealthServiceDeps {
  network: Network;
  log: Logger;
  /** Read on every request. */
  health(): OperatorHealth;
}

export interface HealthServiceOptions {
  operator: Address;
}

export interface HealthService {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Answers `/spotted/health/1`: role `operator`, status, epoch, connected peers, operator address. */
export function createHealthService(
  deps: HealthServiceDeps,
  options: HealthServiceOptions,
): HealthService {
  const { network } = deps;
  const log = deps.log.child('health');
  let started = false;
  return {
    async start() {
      if (started) return;
      await network.handle(
        PROTOCOLS.health,
        async (request) => {
          decodeHealthRequest(request.data);
          const health = deps.health();
          return encodeHealthResponse({
            role: 'operator',
            status: health.status,
            epoch: health.epoch,
            peers: network.connectedPeers().length,
            operator: options.operator,
          });
        },
        { maxRequestBytes: MAX_HEALTH_REQUEST_BYTES },
      );
      started = true;
      log.debug('health service started');
    },
    async stop() {
      if (!started) return;
      started = false;
      await network.unhandle(PROTOCOLS.health);
    },
  };
}
