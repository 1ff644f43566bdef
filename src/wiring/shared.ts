import type { Hex } from 'viem';
import { connectChains } from '../adapters/chain-viem/connect.ts';
import { createMetricsServer } from '../adapters/http/metrics-server.ts';
import { createNodeApi, type HttpListener } from '../adapters/http/node-api.ts';
import { libp2pKeyOf } from '../adapters/keystore/libp2p-identity.ts';
import { fetchClientVersion, instrumentChains } from '../adapters/metrics/instrument-chains.ts';
import type { NodeMetrics } from '../adapters/metrics/node-metrics.ts';
import { createLibp2pNetwork } from '../adapters/network-libp2p/libp2p-network.ts';
import { createPglite } from '../adapters/store-pglite/open-pglite-store.ts';
import {
  createPostgresStorePool,
  type PostgresStorePool,
} from '../adapters/store-postgres/postgres-store-pool.ts';
import type {
  ChainsSection,
  DatabaseSection,
  ListenerSection,
  NetworkSection,
} from '../config/schema.ts';
import type { Chains } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Network } from '../ports/network.ts';
import type { OpenStoreOptions, StoreDeps } from '../store/open-store-database.ts';
import type { HealthBoard } from './node-health.ts';

/**
 * Pieces both wiring files use: chains with RPC metrics, the database, the libp2p network, the
 * node API and metrics listeners, and a stack that stops what was started in reverse order.
 */

/** What the wiring needs from its caller (the CLI): the root logger, the clock, the version. */
export interface WiringDeps {
  log: Logger;
  clock: Clock;
  /** Reported by `/eigen/node` as `node_version`. */
  nodeVersion: string;
}

/** A node built from its configuration, as the CLI runs it. */
export interface NodeProcess {
  /** Connects chains, database and network, then starts the node; throws (having cleaned up) on failure. */
  start(): Promise<void>;
  /**
   * Stops taking work, drains in-flight work for at most the configured drain time, then closes
   * the node, libp2p, the database and the listeners. Safe to call more than once.
   */
  stop(reason: string): Promise<void>;
  readonly health: HealthBoard;
  /** Where each listener is, once started (`nodeApi`, `metrics`, `api`, `admin`, `p2p`). */
  endpoints(): Record<string, string>;
}

/** Stop functions, run newest first; one failing does not keep the others from running. */
export function createStopStack(log: Logger) {
  const stack: { name: string; stop: () => Promise<void> }[] = [];
  return {
    push(name: string, stop: () => Promise<void>) {
      stack.push({ name, stop });
    },
    async unwind() {
      while (stack.length > 0) {
        const entry = stack.pop();
        if (!entry) break;
        try {
          await entry.stop();
        } catch (error) {
          log.error('stop failed', { component: entry.name, error: describe(error) });
        }
      }
    },
  };
}

/**
 * Connects every configured chain (checking chain ids and contract addresses first, so a wrong
 * URL or address fails the start with a message naming it) and wraps the port for the
 * `eigen_rpc_request_*` metrics.
 */
export async function connectInstrumentedChains(
  section: ChainsSection,
  metrics: NodeMetrics,
): Promise<Chains> {
  const chains = await connectChains({
    main: section.main,
    stateChains: section.state,
    requestTimeoutMs: section.requestTimeoutMs,
    retryCount: section.retryCount,
  });
  const urls = new Map<number, string>([[section.main.chainId, section.main.rpcUrl]]);
  for (const state of section.state) urls.set(state.chainId, state.rpcUrl);
  const byUrl = new Map<string, string>();
  for (const url of new Set(urls.values())) byUrl.set(url, await fetchClientVersion(url));
  return instrumentChains(
    chains,
    (method, clientVersion, seconds) => metrics.recordRpcRequest(method, clientVersion, seconds),
    (chainId) => byUrl.get(urls.get(chainId) ?? '') ?? 'unknown',
  );
}

export interface OpenedDatabase<S> {
  store: S;
  /** Pings the database (the health check). */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the node's store on a Postgres server or in a PGlite directory. */
export async function openDatabase<S extends { close(): Promise<void> }>(
  section: DatabaseSection,
  clock: Clock,
  openers: {
    postgres(deps: StoreDeps & { pool: PostgresStorePool }, options: OpenStoreOptions): Promise<S>;
    pglite(
      deps: StoreDeps & { pglite: Awaited<ReturnType<typeof createPglite>> },
      options: OpenStoreOptions,
    ): Promise<S>;
  },
  probe: (store: S) => Promise<unknown>,
): Promise<OpenedDatabase<S>> {
  const options = { schema: section.schema };
  if (section.url !== undefined) {
    const pool = createPostgresStorePool({
      connectionString: section.url,
      maxConnections: section.maxConnections,
    });
    try {
      const store = await openers.postgres({ pool, clock }, options);
      return {
        store,
        probe: async () => {
          await probe(store);
        },
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
  }
  const pglite = await createPglite({ dataDir: section.pgliteDir ?? '' });
  try {
    const store = await openers.pglite({ pglite, clock }, options);
    return {
      store,
      probe: async () => {
        await probe(store);
      },
      close: async () => {
        await store.close();
        await pglite.close();
      },
    };
  } catch (error) {
    await pglite.close().catch(() => {});
    throw error;
  }
}

/** libp2p over TCP with the node's identity (a fresh one, changing each start, when none is given). */
export async function createTcpNetwork(
  section: NetworkSection,
  identityKey: Hex | undefined,
): Promise<Network> {
  return createLibp2pNetwork({
    transport: 'tcp',
    listenAddresses: section.listen,
    ...(identityKey === undefined ? {} : { privateKey: libp2pKeyOf(identityKey) }),
    dialTimeoutMs: section.dialTimeoutMs,
    gossip: { heartbeatIntervalMs: section.heartbeatIntervalMs },
  });
}

/** Starts the node API and metrics listeners (each only when enabled). */
export async function startObservability(
  config: { node: { name: string }; nodeApi: ListenerSection; metrics: ListenerSection },
  deps: WiringDeps & { health: HealthBoard; metrics: NodeMetrics },
  stops: ReturnType<typeof createStopStack>,
  endpoints: Record<string, string>,
): Promise<void> {
  const listeners: [string, ListenerSection, () => HttpListener][] = [
    [
      'nodeApi',
      config.nodeApi,
      () =>
        createNodeApi(
          { health: deps.health, log: deps.log },
          {
            host: config.nodeApi.host,
            port: config.nodeApi.port,
            nodeName: config.node.name,
            nodeVersion: deps.nodeVersion,
          },
        ),
    ],
    [
      'metrics',
      config.metrics,
      () =>
        createMetricsServer(
          { metrics: deps.metrics, log: deps.log },
          { host: config.metrics.host, port: config.metrics.port },
        ),
    ],
  ];
  for (const [name, section, create] of listeners) {
    if (!section.enabled) continue;
    const listener = create();
    await listener.start();
    stops.push(name, () => listener.stop());
    endpoints[name] = listener.url();
  }
}

/** Resolves true once `done()` holds, false after `timeoutMs` (checked every `pollMs`). */
export async function waitUntil(
  clock: Clock,
  done: () => boolean,
  timeoutMs: number,
  pollMs = 100,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (!done()) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(Math.min(pollMs, Math.max(1, deadline - clock.now())));
  }
  return true;
}

/** Resolves 'done' when `work` settles within `timeoutMs`, else 'timedOut' (work keeps running). */
export async function within(
  clock: Clock,
  work: Promise<unknown>,
  timeoutMs: number,
): Promise<'done' | 'timedOut'> {
  const controller = new AbortController();
  const timeout = clock
    .sleep(timeoutMs, { signal: controller.signal })
    .then(() => 'timedOut' as const)
    .catch(() => 'done' as const);
  const finished = work.then(
    () => 'done' as const,
    () => 'done' as const,
  );
  const outcome = await Promise.race([finished, timeout]);
  controller.abort();
  return outcome;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
