import type { Hex } from 'viem';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createAdminApi } from '../adapters/http/admin-api.ts';
import { createNodeMetrics, type NodeMetrics } from '../adapters/metrics/node-metrics.ts';
import { openPgliteRegistryStore } from '../adapters/store-pglite/open-pglite-store.ts';
import { openPostgresRegistryStore } from '../adapters/store-postgres/open-postgres-store.ts';
import type { RegistryConfig } from '../config/schema.ts';
import { REGISTRY_GUARD_OPTIONS } from '../core/peer-guard.ts';
import type { Network } from '../ports/network.ts';
import { createRegistryNode, type RegistryNode } from '../registry/registry-node.ts';
import type { RegistryPeer } from '../registry/state-replication.ts';
import type { OperatorTaskResponsesRepository } from '../store/registry/operator-task-responses.ts';
import type { OperatorsRepository } from '../store/registry/operators.ts';
import type { RegistryRepositories, RegistryStore } from '../store/registry/registry-store.ts';
import { connectConsumers, submitterAddresses } from './consumers.ts';
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
  waitUntil,
} from './shared.ts';

/**
 * The registry binary's wiring (`spotted registry`): from a validated configuration to a running
 * registry node over real RPC endpoints, Postgres (or PGlite) and libp2p over TCP, with the
 * EigenLayer node API, Prometheus metrics and the admin API beside it. Everything observed for
 * metrics is observed from outside the node: the Chains port is decorated, the store's miss and
 * response writes are decorated, and task outcomes come from `aggregator.onTaskEnded`.
 */
export interface RegistrySecrets {
  /** The libp2p identity (secp256k1); without it the peer id changes on every start. */
  identityKey?: Hex;
  /** Required bearer token for the admin API, when set. */
  adminToken?: string;
  /** The submitting account's private key of each `consumers[i]`, in order. */
  submitterKeys?: readonly Hex[];
}

/**
 * The aggregator's lease name in the job queue: it must survive a restart (a restarted node takes
 * its own unfinished jobs back at once instead of waiting for their leases to run out). The
 * configured `aggregator.workerId`; else the peer id when it is stable (an identity keystore);
 * else the node name.
 */
export function aggregatorWorkerId(
  config: Pick<RegistryConfig, 'aggregator' | 'node'>,
  stablePeerId: string | undefined,
): string {
  if (config.aggregator.workerId !== undefined) return config.aggregator.workerId;
  return `aggregator:${stablePeerId ?? config.node.name}`.slice(0, 128);
}

export function buildRegistryProcess(
  config: RegistryConfig,
  deps: WiringDeps,
  secrets: RegistrySecrets,
): NodeProcess & { readonly node: () => RegistryNode | undefined } {
  const { clock } = deps;
  const log = deps.log;
  const health = createHealthBoard();
  const metrics = createNodeMetrics();
  const stops = createStopStack(log);
  const endpoints: Record<string, string> = {};
  let node: RegistryNode | undefined;
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

      const consumers = await connectConsumers(
        config.consumers,
        config.chains,
        secrets.submitterKeys ?? [],
      );
      if (consumers) {
        log.info('consumer contracts connected', {
          consumers: config.consumers.map((consumer, index) => ({
            chainId: consumer.chainId,
            address: consumer.address,
            submitter: submitterAddresses(secrets.submitterKeys ?? [])[index],
          })),
        });
      }

      const database = await openDatabase(
        config.database,
        clock,
        { postgres: openPostgresRegistryStore, pglite: openPgliteRegistryStore },
        (store) => store.epochStates.getLatest(),
      );
      stops.push('database', () => database.close());
      const store = observeStore(database.store, metrics);
      log.info('database open', {
        kind: config.database.url === undefined ? 'pglite' : 'postgres',
        schema: config.database.schema,
      });

      if (secrets.identityKey === undefined) {
        log.warn(
          'no network.identityKeystore: this start has a fresh peer id, so operators configured with the old one cannot reach it',
        );
      }
      const network = await createTcpNetwork(config.network, secrets.identityKey);
      await network.start();
      stops.push('network', () => network.stop());
      endpoints['p2p'] = network.listenAddresses().join(',');
      const workerId = aggregatorWorkerId(
        config,
        secrets.identityKey === undefined ? undefined : network.peerId,
      );

      const registry = createRegistryNode(
        {
          clock,
          network,
          chains,
          store,
          secp256k1: createNativeSecp256k1(),
          log,
          reportRejection: (rejection) => metrics.recordRejection(rejection),
          ...(consumers === undefined ? {} : { consumers }),
        },
        {
          confirmations: BigInt(config.registry.confirmations),
          chainPollIntervalMs: config.registry.chainPollIntervalMs,
          startBlock: config.registry.startBlock,
          aggregator: {
            round: {
              responseDeadlineMs: config.aggregator.responseDeadlineMs,
              maxRetries: config.aggregator.maxRetries,
              expiryMs: config.aggregator.expiryMs,
            },
            maxLiveTasks: config.aggregator.maxLiveTasks,
            reconnect: { windowMs: config.aggregator.reconnectWindowMs },
            queue: { workerId },
          },
          ...(config.api.enabled ? { http: { host: config.api.host, port: config.api.port } } : {}),
          guard: guardOptionsFromConfig(config.guard, REGISTRY_GUARD_OPTIONS),
          replication: {
            peers: registryPeers(config.registry.peers),
            checkIntervalMs: config.registry.stateCheckIntervalMs,
          },
        },
      );
      node = registry;
      registerServices(registry, network, database.probe);
      observeTasks(registry, metrics);
      metrics.bind({
        peers: () => network.connectedPeers().length,
        epoch: () => registry.advancer.currentEpoch(),
        queueDepths: async () => {
          const depths: Record<string, number> = {
            live_tasks: registry.aggregator.liveTaskCount(),
          };
          // The durable queue's own numbers; a failing read leaves just the live tasks.
          for (const queue of await store.queue.stats().catch(() => [])) {
            depths[queue.queue] = queue.ready + queue.running;
          }
          return depths;
        },
        replication: () => {
          const stats = registry.replication.stats();
          return {
            divergencesDetected: stats.divergencesDetected,
            divergencesRepaired: stats.divergencesRepaired,
            diverged: stats.status === 'diverged',
            factsMerged: stats.factsMerged,
          };
        },
        operators: async () =>
          (await store.operators.list()).map((op) => ({
            operator: op.address,
            status: op.status,
            missing: op.missing,
            successfulResponses: op.successfulResponseCount,
          })),
      });

      await registry.start();
      stops.push('registry node', () => registry.stop());
      if (registry.api) endpoints['api'] = registry.api.url();

      if (config.admin.enabled) {
        const admin = createAdminApi(
          { store, log },
          {
            host: config.admin.host,
            port: config.admin.port,
            ...(secrets.adminToken === undefined ? {} : { token: secrets.adminToken }),
          },
        );
        await admin.start();
        stops.push('admin API', () => admin.stop());
        endpoints['admin'] = admin.url();
      }

      health.setPhase('running');
      log.info('registry running', { peerId: network.peerId, workerId, endpoints });
    } catch (error) {
      health.setPhase('stopped');
      await stops.unwind();
      throw error;
    }
  }

  function registerServices(registry: RegistryNode, network: Network, probe: () => Promise<void>) {
    health.register({
      id: 'database',
      name: 'database',
      description: 'The registry store (operators, epochs, tasks)',
      critical: true,
      status: async () => {
        await probe();
        return 'Up' as const;
      },
    });
    health.register({
      id: 'chain-watcher',
      name: 'operator event watcher',
      description: 'Follows OperatorRegistered/Deregistered on the main chain with confirmations',
      critical: false,
      status: () => {
        const status = registry.watcher.health().status;
        return status === 'ok' ? 'Up' : status === 'degraded' ? 'Down' : 'Initializing';
      },
    });
    health.register({
      id: 'epochs',
      name: 'epoch advancer',
      description: 'Advances and publishes epochs as the main chain reaches them',
      critical: false,
      status: () => (registry.advancer.currentEpoch() === undefined ? 'Initializing' : 'Up'),
    });
    health.register({
      id: 'p2p',
      name: 'libp2p',
      description: 'Gossip and request/response with operators over TCP',
      critical: false,
      status: () => (network.listenAddresses().length > 0 ? 'Up' : 'Down'),
    });
    if (config.registry.peers.length > 0) {
      health.register({
        id: 'replication',
        name: 'registry replication',
        description:
          'State hash of the latest epoch against the other registries; Down while it disagrees with their majority (requests are refused until repaired)',
        critical: false,
        // Not yet confirmed (peers down or behind) is not a fault: only a known divergence is.
        status: () => (registry.replication.diverged() ? 'Down' : 'Up'),
      });
    }
    if (registry.api) {
      health.register({
        id: 'proof-api',
        name: 'proof API',
        description: 'POST /v1/proofs, GET /v1/proofs/:taskId for users',
        critical: false,
        status: () => (health.phase() === 'running' ? 'Up' : 'Down'),
      });
    }
  }

  function observeTasks(registry: RegistryNode, sink: NodeMetrics) {
    registry.aggregator.onTaskEnded((event) => {
      void registry.aggregator
        .getProof(event.taskId)
        .then((view) => {
          const latencySeconds = view ? (view.updatedAtMs - view.createdAtMs) / 1_000 : undefined;
          sink.recordTaskEnded(event.status, latencySeconds);
        })
        .catch(() => sink.recordTaskEnded(event.status));
    });
  }

  async function stop(reason: string): Promise<void> {
    stopping ??= (async () => {
      const current = node;
      health.setPhase('stopping');
      log.info('stopping', { reason, drainTimeoutMs: config.shutdown.drainTimeoutMs });
      if (current) {
        // Stop taking requests first; tasks already accepted keep being collected.
        await current.api
          ?.stop()
          .catch((error: unknown) =>
            log.error('proof API stop failed', { error: describe(error) }),
          );
        const drained = await waitUntil(
          clock,
          () => current.aggregator.liveTaskCount() === 0,
          config.shutdown.drainTimeoutMs,
        );
        if (!drained) {
          log.warn('drain timed out; unfinished tasks stay pending and resume on the next start', {
            liveTasks: current.aggregator.liveTaskCount(),
          });
        }
      }
      await stops.unwind();
      health.setPhase('stopped');
      log.info('registry stopped', { reason });
    })();
    return stopping;
  }

  return { start, stop, health, endpoints: () => ({ ...endpoints }), node: () => node };
}

/** `registry.peers` (multiaddrs ending in /p2p/<peer id>) as the replication's peer list. */
export function registryPeers(addresses: readonly string[]): RegistryPeer[] {
  return addresses.map((address) => ({
    address,
    peerId: address.slice(address.lastIndexOf('/p2p/') + '/p2p/'.length),
  }));
}

/**
 * The store, with its miss and response writes reported to the metrics (inside transactions
 * too). Reads and every other write pass through untouched.
 */
function observeStore(store: RegistryStore, metrics: NodeMetrics): RegistryStore {
  const operators = (repository: OperatorsRepository): OperatorsRepository =>
    new Proxy(repository, {
      get(target, property, receiver) {
        if (property !== 'recordMiss') return Reflect.get(target, property, receiver);
        const recordMiss: OperatorsRepository['recordMiss'] = async (address, options) => {
          const result = await target.recordMiss(address, options);
          metrics.recordMiss(result.suspendedNow);
          return result;
        };
        return recordMiss;
      },
    });
  const responses = (
    repository: OperatorTaskResponsesRepository,
  ): OperatorTaskResponsesRepository =>
    new Proxy(repository, {
      get(target, property, receiver) {
        if (property === 'recordMany') {
          const recordMany: OperatorTaskResponsesRepository['recordMany'] = async (inputs) => {
            const result = await target.recordMany(inputs);
            for (const input of inputs) {
              metrics.recordResponse(input.outcome === 'signed' ? 'signed' : 'refused');
            }
            return result;
          };
          return recordMany;
        }
        if (property !== 'record') return Reflect.get(target, property, receiver);
        const record: OperatorTaskResponsesRepository['record'] = async (input) => {
          const result = await target.record(input);
          metrics.recordResponse(input.outcome === 'signed' ? 'signed' : 'refused');
          return result;
        };
        return record;
      },
    });
  const repositories = <T extends RegistryRepositories>(target: T): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        if (property === 'operators') return operators(object.operators);
        if (property === 'operatorResponses') return responses(object.operatorResponses);
        if (property === 'transaction' && 'transaction' in object) {
          const transaction: RegistryStore['transaction'] = (work) =>
            (object as unknown as RegistryStore).transaction((tx) => work(repositories(tx)));
          return transaction;
        }
        return Reflect.get(object, property, receiver);
      },
    });
  return repositories(store);
}
