import type { Logger } from '../ports/logger.ts';
import { type Network, PROTOCOLS } from '../ports/network.ts';
import {
  decodeHealthRequest,
  encodeHealthResponse,
  type HealthResponseMessage,
  MAX_HEALTH_REQUEST_BYTES,
} from '../wire/health.ts';
import type { OperatorEventWatcherHealth } from './operator-event-watcher.ts';

export type RegistryHealthStatus = 'starting' | 'ok' | 'degraded';

export interface HealthServiceDeps {
  network: Pick<Network, 'handle' | 'unhandle' | 'connectedPeers'>;
  watcher: { health(): OperatorEventWatcherHealth };
  advancer: { currentEpoch(): number | undefined };
  log: Logger;
  /** State-hash comparison with the other registries: `diverged` makes the node degraded. */
  replication?: { diverged(): boolean };
}

export interface HealthService {
  /** Starts answering `/spotted/health/1`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What the protocol answers right now. */
  health(): HealthResponseMessage;
}

/**
 * `/spotted/health/1` for the registry node: role `registry`; status `degraded` while the event
 * watcher reports a reorg deeper than its confirmation depth or while its epoch state disagrees
 * with the majority of the registries (until repaired), else `starting` until the watcher
 * has caught up once and the first epoch has been advanced, then `ok`; the latest advanced epoch
 * (0 before the first); the number of connected peers.
 */
export function createHealthService(deps: HealthServiceDeps): HealthService {
  const { network, watcher, advancer } = deps;
  const log = deps.log.child('health-service');
  let handling = false;

  function health(): HealthResponseMessage {
    const watching = watcher.health();
    const epoch = advancer.currentEpoch();
    const status: RegistryHealthStatus =
      watching.status === 'degraded' || deps.replication?.diverged() === true
        ? 'degraded'
        : watching.status === 'ok' && epoch !== undefined
          ? 'ok'
          : 'starting';
    return {
      role: 'registry',
      status,
      epoch: epoch ?? 0,
      peers: network.connectedPeers().length,
      operator: null,
    };
  }

  return {
    async start() {
      if (handling) return;
      await network.handle(
        PROTOCOLS.health,
        async (request) => {
          decodeHealthRequest(request.data);
          const answer = health();
          log.debug('health answered', { peerId: request.from, status: answer.status });
          return encodeHealthResponse(answer);
        },
        { maxRequestBytes: MAX_HEALTH_REQUEST_BYTES },
      );
      handling = true;
    },
    async stop() {
      if (!handling) return;
      handling = false;
      await network.unhandle(PROTOCOLS.health);
    },
    health,
  };
}
