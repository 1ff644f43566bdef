import type { Hex } from 'viem';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createNodeMetrics } from '../adapters/metrics/node-metrics.ts';
import { createCryptoRng } from '../adapters/rng/seeded-rng.ts';
import { openPgliteOperatorStore } from '../adapters/store-pglite/open-pglite-store.ts';
import { openPostgresOperatorStore } from '../adapters/store-postgres/open-postgres-store.ts';
import type { OperatorConfig } from '../config/schema.ts';
import { OPERATOR_GUARD_OPTIONS } from '../core/peer-guard.ts';
import { createOperatorNode, type OperatorNode } from '../operator/operator-node.ts';
import { parseRegistryBootstrap } from '../operator/registry-peers.ts';
import { guardOptionsFromConfig } from './guard-options.ts';
import { createHealthBoard } from './node-health.ts';
import {
  connectInstrumentedChains,
  createStopStack,
  createTcpNetwork,
  describe,
  type NodeProcess,
  openDatabase,
  startObservability,
  type WiringDeps,
  within,
} from './shared.ts';

/**
 * The operator binary's wiring (`spotted operator`): from a validated configuration and the
 * decrypted keys to a running operator node over real RPC endpoints, its own Postgres schema (or
 * PGlite) and libp2p over TCP, with the EigenLayer node API and Prometheus metrics beside it.
 */
export interface OperatorSecrets {
  /** The signing keys' private keys (decrypted by the caller from the configured keystores). */
  signingPrivateKeys: readonly Hex[];
  /** The libp2p identity; without it the peer id changes on every start (and the node rejoins). */
  identityKey?: Hex;
}

/** Backoff shape for the configured join delays. */
const BACKOFF = { multiplier: 2, jitterRatio: 0.2 } as const;

export function buildOperatorProcess(
  config: OperatorConfig,
  deps: WiringDeps,
  secrets: OperatorSecrets,
): NodeProcess & { readonly node: () => OperatorNode | undefined } {
  const { clock, log } = deps;
  const health = createHealthBoard();
  const metrics = createNodeMetrics();
  const stops = createStopStack(log);
  const endpoints: Record<string, string> = {};
  const registryPeerIds = new Set(
    parseRegistryBootstrap(config.operator.registryBootstrap).map((r) => r.peerId),
  );
  let node: OperatorNode | undefined;
  let stopping: Promise<void> | undefined;

  metrics.bind({ performanceScore: () => health.performanceScore() });

  async function start(): Promise<void> {
    try {
      await startObservability(config, { ...deps, health, metrics }, stops, endpoints);

      const chains = await connectInstrumentedChains(config.chains, metrics);
      log.info('chains connected', {
        main: config.chains.main.chainId,
        stateChains: chains.stateChainIds,
      });

      const database = await openDatabase(
        config.database,
        clock,
        { postgres: openPostgresOperatorStore, pglite: openPgliteOperatorStore },
        (store) => store.localOperator.get(),
      );
      stops.push('database', () => database.close());

      if (secrets.identityKey === undefined) {
        log.warn('no network.identityKeystore: this start has a fresh peer id');
      }
      const network = await createTcpNetwork(config.network, secrets.identityKey);
      await network.start();
      stops.push('network', () => network.stop());
      endpoints['p2p'] = network.listenAddresses().join(',');

      const join = config.operator.join;
      const operator = createOperatorNode(
        {
          clock,
          rng: createCryptoRng(),
          network,
          chains,
          store: database.store,
          secp256k1: createNativeSecp256k1(),
          log,
          reportRejection: (rejection) => metrics.recordRejection(rejection),
        },
        {
          operatorAddress: config.operator.address,
          signingPrivateKeys: secrets.signingPrivateKeys,
          registryBootstrapAddresses: config.operator.registryBootstrap,
          trustedRegistryPeerIds: config.operator.trustedRegistryPeerIds,
          guard: guardOptionsFromConfig(config.guard, OPERATOR_GUARD_OPTIONS),
          join: {
            requestTimeoutMs: join.requestTimeoutMs,
            retry: {
              initialDelayMs: join.retryInitialDelayMs,
              maxDelayMs: join.retryMaxDelayMs,
              ...BACKOFF,
            },
            notRegisteredRetry: {
              initialDelayMs: join.notRegisteredRetryInitialDelayMs,
              maxDelayMs: join.notRegisteredRetryMaxDelayMs,
              ...BACKOFF,
            },
          },
        },
      );
      node = operator;

      health.register({
        id: 'database',
        name: 'database',
        description: "The operator's local store (tasks, answers, epoch state)",
        critical: true,
        status: async () => {
          await database.probe();
          return 'Up' as const;
        },
      });
      health.register({
        id: 'registry-join',
        name: 'registry membership',
        description: 'Joined the network through the configured registries',
        critical: true,
        status: () => {
          const phase = operator.status().join.phase;
          return phase === 'joined' ? 'Up' : phase === 'refused' ? 'Down' : 'Initializing';
        },
      });
      health.register({
        id: 'epoch-follower',
        name: 'epoch follower',
        description: 'Holds an epoch state checked against the chain',
        critical: false,
        status: () => (operator.status().epoch === undefined ? 'Initializing' : 'Up'),
      });
      health.register({
        id: 'p2p',
        name: 'libp2p',
        description: 'Connected to a configured registry over TCP',
        critical: false,
        status: () =>
          network.connectedPeers().some((peer) => registryPeerIds.has(peer))
            ? 'Up'
            : 'Initializing',
      });

      operator.onTaskAnswered((event) => {
        if (!event.resent) metrics.recordResponse(event.decision.kind);
      });
      metrics.bind({
        peers: () => network.connectedPeers().length,
        epoch: () => operator.status().epoch?.epoch,
        queueDepths: () => ({}),
      });

      await operator.start();
      stops.push('operator node', () => operator.stop());
      health.setPhase('running');
      log.info('operator running', {
        operator: operator.operator,
        peerId: network.peerId,
        signingKeys: operator.keyRing.signingKeys,
        endpoints,
      });
    } catch (error) {
      health.setPhase('stopped');
      await stops.unwind();
      throw error;
    }
  }

  async function stop(reason: string): Promise<void> {
    stopping ??= (async () => {
      const current = node;
      health.setPhase('stopping');
      log.info('stopping', { reason, drainTimeoutMs: config.shutdown.drainTimeoutMs });
      if (current) {
        // The node stops joining and taking tasks, and finishes the answers it is sending.
        const outcome = await within(
          clock,
          current
            .stop()
            .catch((error: unknown) =>
              log.error('operator node stop failed', { error: describe(error) }),
            ),
          config.shutdown.drainTimeoutMs,
        );
        if (outcome === 'timedOut') {
          log.warn('drain timed out; closing the network under the answers still in flight');
        }
      }
      await stops.unwind();
      health.setPhase('stopped');
      log.info('operator stopped', { reason });
    })();
    return stopping;
  }

  return { start, stop, health, endpoints: () => ({ ...endpoints }), node: () => node };
}
