import { createRegistryApi, type RegistryApi } from '../adapters/http/registry-api.ts';
import { createFetchWebhookSender } from '../adapters/http/webhook-sender.ts';
import {
  type Aggregator,
  type AggregatorOptions,
  createAggregator,
} from '../aggregator/aggregator.ts';
import type { ConsumerChains, WebhookSender } from '../aggregator/delivery-ports.ts';
import {
  createPeerGuard,
  type PeerGuard,
  type PeerGuardOptions,
  REGISTRY_GUARD_OPTIONS,
} from '../core/peer-guard.ts';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import type { Chains } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Network } from '../ports/network.ts';
import type { RejectionReporter } from '../ports/rejections.ts';
import type { RegistryStore } from '../store/registry/registry-store.ts';
import { refuseWhileDiverged } from './divergence-guard.ts';
import { createEpochAdvancer, type EpochAdvancer } from './epoch-advancer.ts';
import { createHealthService, type HealthService } from './health-service.ts';
import { createJoinService } from './join-service.ts';
import { createOperatorEventWatcher, type OperatorEventWatcher } from './operator-event-watcher.ts';
import { createPeerDirectory, type PeerDirectory } from './peer-directory.ts';
import { createResultReplication } from './result-replication.ts';
import {
  createStateReplication,
  DEFAULT_STATE_REPLICATION_OPTIONS,
  type RegistryPeer,
  type StateReplication,
} from './state-replication.ts';
import { createSyncService } from './sync-service.ts';

export interface RegistryNodeDeps {
  clock: Clock;
  network: Network;
  chains: Chains;
  /** Opened (and closed) by the caller. */
  store: RegistryStore;
  secp256k1: Secp256k1;
  log: Logger;
  /** Result callbacks; default: HTTP POST via fetch when the HTTP API is served, else none. */
  webhooks?: WebhookSender;
  /** Consumer contracts the aggregator may submit proofs to (none by default). */
  consumers?: ConsumerChains;
  /** Told of every refused message or connection (metrics: `recordRejection`). */
  reportRejection?: RejectionReporter;
}

export interface RegistryNodeOptions {
  /** Blocks below the head before a registry event counts (reorg safety). */
  confirmations: bigint;
  /** How often the event watcher and the head follower poll the main chain. */
  chainPollIntervalMs: number;
  /** First block to scan for registry events (the registry's deploy block). */
  startBlock: bigint;
  aggregator?: AggregatorOptions;
  /** Serve the HTTP API; omit for a node without one (simulator). */
  http?: { host?: string; port?: number };
  /**
   * Admission, rate limits and bans (REGISTRY_GUARD_OPTIONS by default). The replication peers
   * are the known registries, admitted like joined operators and never banned.
   */
  guard?: Partial<PeerGuardOptions>;
  /** The other registry nodes of the deployment (state-hash comparison and repair). */
  replication?: {
    peers: readonly RegistryPeer[];
    checkIntervalMs?: number;
    requestTimeoutMs?: number;
  };
}

export interface RegistryNode {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly network: Network;
  readonly store: RegistryStore;
  readonly peers: PeerDirectory;
  readonly watcher: OperatorEventWatcher;
  readonly advancer: EpochAdvancer;
  readonly health: HealthService;
  /** Refuses proof requests (NOT_READY) while `replication` reports a divergence. */
  readonly aggregator: Aggregator;
  readonly replication: StateReplication;
  /** The connection gate and rejection counts (installed on the network by `start()`). */
  readonly guard: PeerGuard;
  /** Present when `options.http` was given. */
  readonly api: RegistryApi | undefined;
}

/**
 * The registry node's one wiring point (SPEC §3): peer directory, event watcher, epoch advancer,
 * join / sync / health services, the aggregator and the HTTP API, over injected ports. The
 * simulator and production call this same function.
 *
 * The network and the store are dependencies, not components: the caller starts the network
 * before `start()` and stops it (and closes the store) after `stop()`.
 */
export function createRegistryNode(
  deps: RegistryNodeDeps,
  options: RegistryNodeOptions,
): RegistryNode {
  const { clock, network, chains, store, secp256k1 } = deps;
  const log = deps.log.child('registry');
  const peers = createPeerDirectory({ store });
  const knownRegistries = new Set((options.replication?.peers ?? []).map((peer) => peer.peerId));
  const guard = createPeerGuard(
    {
      now: () => clock.now(),
      isAdmitted: (peer) => knownRegistries.has(peer) || peers.operatorOf(peer) !== undefined,
      isProtected: (peer) => knownRegistries.has(peer),
      hangUp: (peer) => {
        log.warn('peer banned', { peer });
        void network.hangUp(peer).catch(() => {});
      },
      report: deps.reportRejection,
    },
    { ...REGISTRY_GUARD_OPTIONS, ...options.guard },
  );
  const watcher = createOperatorEventWatcher(
    { chain: chains.main, store, clock, log, peers },
    {
      confirmations: options.confirmations,
      pollIntervalMs: options.chainPollIntervalMs,
      startBlock: options.startBlock,
    },
  );
  const advancer = createEpochAdvancer(
    { chain: chains.main, store, network, clock, log, watcher },
    { pollIntervalMs: options.chainPollIntervalMs },
  );
  const join = createJoinService({
    network,
    store,
    secp256k1,
    clock,
    log,
    peers,
    chain: chains.main,
    reportRejection: guard.report,
  });
  const sync = createSyncService({ network, store, clock, log, joinLog: join.joinLog });
  const replication = createStateReplication(
    {
      network,
      store,
      clock,
      log,
      advancer,
      joins: { log: join.joinLog, apply: (request) => join.applyReplicatedJoin(request) },
    },
    {
      ...DEFAULT_STATE_REPLICATION_OPTIONS,
      ...(options.replication?.checkIntervalMs === undefined
        ? {}
        : { checkIntervalMs: options.replication.checkIntervalMs }),
      ...(options.replication?.requestTimeoutMs === undefined
        ? {}
        : { requestTimeoutMs: options.replication.requestTimeoutMs }),
      peers: options.replication?.peers ?? [],
    },
  );
  const results = createResultReplication(
    { network, store, secp256k1, clock, log },
    { peers: options.replication?.peers ?? [] },
  );
  const health = createHealthService({ network, watcher, advancer, log, replication });
  const collector = createAggregator(
    {
      clock,
      network,
      chains,
      store,
      secp256k1,
      log,
      peers,
      webhooks: deps.webhooks ?? (options.http ? createFetchWebhookSender() : undefined),
      consumers: deps.consumers,
      reportRejection: guard.report,
      epochs: advancer,
    },
    options.aggregator ?? {},
  );
  // A registry whose epoch state disagrees with the majority takes no new request until repaired.
  const aggregator = refuseWhileDiverged(collector, replication);
  const api = options.http
    ? createRegistryApi({ aggregator, store, network, log }, options.http)
    : undefined;

  const components = [
    peers,
    watcher,
    advancer,
    join,
    sync,
    replication,
    results,
    health,
    collector,
    ...(api ? [api] : []),
  ];
  const started: { stop(): Promise<void> }[] = [];

  return {
    network,
    store,
    peers,
    watcher,
    advancer,
    health,
    aggregator,
    replication,
    guard,
    api,
    async start() {
      network.setConnectionGate(guard);
      for (const component of components) {
        await component.start();
        started.push(component);
      }
      log.info('registry node started', { peerId: network.peerId, api: api?.url() });
    },
    async stop() {
      while (started.length > 0) {
        const component = started.pop();
        try {
          await component?.stop();
        } catch (error) {
          log.error('stop failed', { error: String(error) });
        }
      }
      network.setConnectionGate(undefined);
      log.info('registry node stopped');
    },
  };
}
