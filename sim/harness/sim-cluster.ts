import type { PGlite } from '@electric-sql/pglite';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import {
  createImmutableReadCache,
  type ImmutableReadCache,
} from '../../src/adapters/chain-cache/immutable-read-cache.ts';
import {
  createVirtualClock,
  type VirtualClock,
  yieldTurns,
} from '../../src/adapters/clock/virtual-clock.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { createSimNetworkHub } from '../../src/adapters/network-sim/sim-network.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import { openMemoryRegistryStore } from '../../src/adapters/store-memory/open-memory-registry-store.ts';
import {
  createMemoryStoreDatabase,
  openMemoryOperatorStore,
} from '../../src/adapters/store-memory/open-memory-store.ts';
import {
  createPglite,
  openPgliteOperatorStore,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { EpochParams } from '../../src/core/epoch-math.ts';
import {
  createBehaviour,
  type OperatorBehaviour,
  type OperatorBehaviourSpec,
} from '../../src/operator/behaviour.ts';
import { createOperatorNode, type OperatorNode } from '../../src/operator/operator-node.ts';
import type { Chains } from '../../src/ports/chain.ts';
import type { Network } from '../../src/ports/network.ts';
import type { Rng } from '../../src/ports/rng.ts';
import { createRegistryNode, type RegistryNode } from '../../src/registry/registry-node.ts';
import type { OperatorStore } from '../../src/store/operator/operator-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { registryNames, type Scenario } from '../scenario/scenario.ts';
import { type ClusterNetwork, type NetworkMode, simClusterNetwork } from './cluster-network.ts';
import {
  type ChainViewCorruption,
  mapChains,
  type RpcFault,
  skewedClock,
  withChainViewCorruption,
  withRpcFaults,
} from './faults.ts';
import { createIoGate, gateAll, type IoGate } from './io-gate.ts';
import { deriveKey } from './keys.ts';
import { createLibp2pFabric } from './libp2p-fabric.ts';
import { createTraceLogger, type Trace } from './trace.ts';

/** libp2p: operators connecting to the registry at once, before the run starts. */
const PRECONNECT_CONCURRENCY = 8;

/** Runs `work` on every item, at most `limit` at a time. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/** Block timestamps start here; virtual time is kept equal to chain time. */
const GENESIS_TIMESTAMP_SEC = 1_700_000_000n;

export interface SimOperator {
  name: string;
  address: Address;
  operatorKey: Hex;
  /** Current key first, then spares for rotations. */
  signingKeys: Hex[];
  /** Index of the key registered on chain now. */
  keyIndex: number;
  network: Network;
  store: OperatorStore;
  node: OperatorNode;
  behaviour: { current: OperatorBehaviour };
  running: boolean;
  skewMs: number;
}

/** One registry node of the deployment, by its scenario name. */
export interface SimRegistry {
  name: string;
  node: RegistryNode;
  network: Network;
  store: RegistryStore;
  running: boolean;
  skewMs: number;
  /** A wrong view of the main chain fed to this registry only (`corruptChainView`). */
  chainView: { corruption: ChainViewCorruption | undefined };
}

export interface SimCluster {
  scenario: Scenario;
  seed: number;
  clock: VirtualClock;
  /** Virtual time when the run started (chain time of the first produced block, in ms). */
  startMs: number;
  rng: Rng;
  gate: IoGate;
  /** The network every node uses (sim or libp2p) and its fault controls. */
  net: ClusterNetwork;
  testbed: Testbed;
  /** The gated, fault-injecting chains every node uses. */
  chains: Chains;
  /** Final chain reads shared by every node (below the fault layer); clear it after a reorg. */
  chainReadCache: ImmutableReadCache;
  epochParams: EpochParams;
  /** The first registry (the only one unless the scenario lists several). */
  registry: SimRegistry;
  registries: SimRegistry[];
  registryByName: Map<string, SimRegistry>;
  operators: SimOperator[];
  operatorByName: Map<string, SimOperator>;
  users: Map<string, Hex>;
  rpcFaults: Map<number, RpcFault>;
  /** Builds a fresh node object over the same store and network (crash → restart). */
  rebuildOperator(operator: SimOperator): OperatorNode;
  rebuildRegistry(registry?: SimRegistry): RegistryNode;
  /** Mines one block on every chain at the current virtual time; returns the main chain's head. */
  mineBlock(): Promise<bigint>;
  stop(): Promise<void>;
}

/** Where the simulator's operators keep their stores (see `buildSimCluster`). */
/** Where a kind of node keeps its store in the simulator: in process memory, or in PGlite. */
export type StoreMode = 'memory' | 'pglite';
export const STORE_MODES: readonly StoreMode[] = ['memory', 'pglite'];

/**
 * The I/O-gate lane of every store call: the PGlite all SQL stores share, and the operators'
 * memory stores too, so that either kind of operator store gives the same order of calls.
 */
const PGLITE_LANE = 'pglite';

/**
 * Builds the whole simulated deployment for one run: Anvil chains whose blocks follow virtual
 * time, one PGlite holding the registries' schemas (the operators' stores are in memory, or
 * there too), the network (the deterministic sim network, or real libp2p nodes on the memory
 * transport), and the real registry and operator nodes wired as in production. Every source of
 * nondeterminism is pinned: keys come from the seed, block timestamps are set explicitly, all I/O
 * passes one ordered gate, and time moves only when the runner advances the virtual clock. On libp2p, time also waits for messages in flight
 * (`libp2p-fabric.ts`), but the interleaving of real-time deliveries is libp2p's.
 */
export async function buildSimCluster(args: {
  scenario: Scenario;
  seed: number;
  trace: Trace;
  network?: NetworkMode;
  /**
   * Answer `getHistoryAtBlock` below the head once for all nodes (default on). Reads are the same
   * either way — the fault layer sits above the cache, so each node still gets its own faults —
   * only fewer reach Anvil. Off models every operator reading through its own RPC (the latency
   * benchmark turns it off to compare with a floor that counts every read).
   */
  cacheStateHistory?: boolean;
  /**
   * Let the nodes' chain reads that are waiting at the same time run together, sent as one
   * JSON-RPC batch (default on), as independent nodes would read at the same time. Off: one
   * request after another (the latency benchmark, whose floor counts the reads one by one).
   */
  batchChainReads?: boolean;
  /**
   * Where the operators keep their stores (default `memory`): the in-process adapter, which
   * passes the same store compliance suite as the SQL ones at a fraction of the cost per call,
   * or `pglite`, a schema per operator in one shared PGlite (the production SQL path).
   */
  operatorStore?: StoreMode;
  /** Where the registries keep their stores (default `memory`), as `operatorStore`. */
  registryStore?: StoreMode;
}): Promise<SimCluster> {
  const { scenario, seed, trace } = args;
  const batchChainReads = args.batchChainReads ?? true;
  const operatorStore = args.operatorStore ?? 'memory';
  const registryStore = args.registryStore ?? 'memory';
  const memoryStores = createMemoryStoreDatabase();
  // Messages on instant links (zero-delay timers) are delivered between I/O hand-backs.
  let fireDueNow = () => false;
  const gate = createIoGate({ betweenHandBacks: () => fireDueNow() });
  let net: ClusterNetwork | undefined;
  const quiet = () => gate.inFlight() === 0 && net?.busy() !== true;
  const settle = async () => {
    for (;;) {
      await gate.idle();
      await net?.idle();
      await yieldTurns(2);
      if (!quiet()) continue;
      await yieldTurns(2);
      if (quiet()) return;
    }
  };
  const secp256k1 = createNativeSecp256k1();
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    while (cleanups.length > 0)
      await cleanups
        .pop()?.()
        .catch(() => {});
  };

  try {
    const testbed = await startTestbed({
      mainChainId: scenario.chain.mainChainId,
      stateChainIds: scenario.chain.stateChainIds.filter((id) => id !== scenario.chain.mainChainId),
      epochLengthBlocks: BigInt(scenario.chain.epochLengthBlocks),
      gracePeriodBlocks: BigInt(scenario.chain.gracePeriodBlocks),
      deployerPrivateKey: deriveKey(seed, 'deployer'),
      genesisTimestampSec: GENESIS_TIMESTAMP_SEC,
      blockTimestampIntervalSec: 1,
      manualMining: true,
      // The chains' reads run side by side in their I/O lanes (gateAll `shared`): one batch each.
      batchConcurrentReads: batchChainReads,
    });
    cleanups.push(() => testbed.stop());
    const anvils = [
      testbed.mainAnvil,
      ...[...testbed.stateChains.values()].map((s) => s.anvil),
    ].filter((anvil, index, all) => all.indexOf(anvil) === index);

    // Virtual time starts just after the setup blocks, on a whole second.
    const setupHead = await testbed.mainAnvil.publicClient.getBlock({ blockTag: 'latest' });
    const startMs = Number(setupHead.timestamp + 2n) * 1000;
    const clock = createVirtualClock({ startMs, settle, sameInstantTogether: true });
    fireDueNow = clock.fireDueNow;
    const rng = createSeededRng(`${seed}:faults`);
    // Each Anvil is one I/O lane and the shared PGlite another: calls on different lanes overlap.
    const laneOf = (chain: { chainId: number }) => `chain:${chain.chainId}`;
    // Reads that can no longer change are answered once for all nodes (hits skip the gate). The
    // simulator mines every block itself, so it announces each head: reads "at the head" (block
    // number, latest block, current epoch) are answered from the cache too.
    const chainReadCache = createImmutableReadCache({
      cacheStateHistory: args.cacheStateHistory ?? true,
    });
    let lastBlockSec = 0n;
    const heads = new Map<number, bigint>();
    const mineBlock = async () => {
      let timestampSec = BigInt(Math.floor(clock.now() / 1000));
      if (timestampSec <= lastBlockSec) timestampSec = lastBlockSec + 1n;
      lastBlockSec = timestampSec;
      // The chains mine side by side, each in its own lane; results (and so the announcements)
      // are handed back in issue order.
      await Promise.all(
        anvils.map(async (anvil) => {
          const head = await gate.run(
            async () => {
              const before =
                heads.get(anvil.chainId) ?? (await anvil.publicClient.getBlockNumber());
              await anvil.mineBlockAt(timestampSec);
              return before + 1n;
            },
            { lane: laneOf(anvil) },
          );
          heads.set(anvil.chainId, head);
          chainReadCache.announceHead(anvil.chainId, head);
        }),
      );
      return heads.get(testbed.mainAnvil.chainId) as bigint;
    };

    // Operators registered at the start, in one block.
    const operatorKeys = scenario.operators.map((setup) => {
      const operatorKey = deriveKey(seed, `operator:${setup.name}`);
      const signingKeys = Array.from({ length: 1 + setup.spareKeys }, (_, i) =>
        deriveKey(seed, `signing:${setup.name}:${i}`),
      );
      return { setup, operatorKey, signingKeys, address: privateKeyToAccount(operatorKey).address };
    });
    for (const entry of operatorKeys.filter((e) => e.setup.registeredAtStart)) {
      await testbed.registry.registerOperator({
        operator: entry.address,
        signingKey: secp256k1.addressOf(entry.signingKeys[0] as Hex),
        weight: entry.setup.weight,
      });
    }
    for (const entry of operatorKeys) await testbed.mainAnvil.fund(entry.address);
    const users = new Map(scenario.users.map((name) => [name, deriveKey(seed, `user:${name}`)]));
    for (const key of users.values()) {
      for (const anvil of anvils) await anvil.fund(privateKeyToAccount(key).address);
    }
    await mineBlock();

    const rpcFaults = new Map<number, RpcFault>();
    // The chain ports only read: their calls may run side by side in their lane (one batch).
    const chainLane = (chain: { chainId: number }) => ({
      lane: laneOf(chain),
      shared: batchChainReads,
    });
    const faultable = mapChains(testbed.chains, {
      main: (chain) =>
        withRpcFaults(chainReadCache.main(gateAll(chain, gate, chainLane(chain))), {
          clock,
          rng,
          faultFor: (id) => rpcFaults.get(id),
        }),
      state: (chain) =>
        withRpcFaults(chainReadCache.state(gateAll(chain, gate, chainLane(chain))), {
          clock,
          rng,
          faultFor: (id) => rpcFaults.get(id),
        }),
    });
    const epochParams = await gate.run(() => testbed.main.getEpochParams());

    // One PGlite for every SQL store, created only when some node keeps its store there.
    let pglite: PGlite | undefined;
    const sharedPglite = async (): Promise<PGlite> => {
      if (pglite === undefined) {
        const created = await createPglite();
        pglite = created;
        cleanups.push(() => created.close());
      }
      return pglite;
    };
    const onTrace = (event: { atMs: number; kind: string }) =>
      trace.record({ ...event, atMs: event.atMs - startMs, kind: `net.${event.kind}` });
    const network =
      args.network === 'libp2p'
        ? createLibp2pFabric({
            clock,
            rng: createSeededRng(`${seed}:network`),
            seed,
            conditions: scenario.network,
            onTrace,
          })
        : simClusterNetwork(
            createSimNetworkHub({
              clock,
              rng: createSeededRng(`${seed}:network`),
              conditions: scenario.network,
              onTrace,
            }),
          );
    net = network;
    cleanups.push(() => network.stop());

    // Every store is open before any node starts, so no node's start-up overlaps another store's
    // opening (which takes real time on PGlite and none in memory): both kinds give one trace.
    const operatorStores: OperatorStore[] = [];
    for (const index of operatorKeys.keys()) {
      const schema = `operator_${index}`;
      operatorStores.push(
        operatorStore === 'memory'
          ? await openMemoryOperatorStore({ database: memoryStores, clock }, { schema })
          : gateAll(
              await openPgliteOperatorStore({ pglite: await sharedPglite(), clock }, { schema }),
              gate,
              { lane: PGLITE_LANE },
            ),
      );
    }

    // Registries: every network first, so each node knows the others' addresses.
    const relative = { now: () => clock.now() - startMs };
    const registries: SimRegistry[] = [];
    for (const [index, registryName] of registryNames(scenario).entries()) {
      const schema = index === 0 ? 'registry' : `registry_${index}`;
      const store =
        registryStore === 'memory'
          ? await openMemoryRegistryStore({ database: memoryStores, clock }, { schema })
          : gateAll(
              await openPgliteRegistryStore({ pglite: await sharedPglite(), clock }, { schema }),
              gate,
              { lane: PGLITE_LANE },
            );
      const peer = await network.createPeer(registryName);
      await peer.start();
      registries.push({
        name: registryName,
        node: undefined as unknown as RegistryNode,
        network: peer,
        store,
        running: true,
        skewMs: 0,
        chainView: { corruption: undefined },
      });
    }
    const registryPeers = registries.map((registry) => ({
      name: registry.name,
      peerId: registry.network.peerId,
      address: network.bootstrapAddresses(registry.network)[0] ?? '',
    }));
    const buildRegistry = (registry: SimRegistry = registries[0] as SimRegistry) =>
      createRegistryNode(
        {
          clock: skewedClock(clock, () => registry.skewMs),
          network: registry.network,
          chains: withChainViewCorruption(faultable, {
            clock,
            corruption: () => registry.chainView.corruption,
          }),
          store: registry.store,
          secp256k1,
          log: createTraceLogger(trace, relative, registry.name),
        },
        {
          confirmations: BigInt(scenario.chain.confirmations),
          chainPollIntervalMs: Math.max(250, Math.floor(scenario.chain.blockTimeMs / 2)),
          startBlock: testbed.deployment.genesisBlock,
          aggregator: {
            round: {
              responseDeadlineMs: scenario.aggregator.responseDeadlineMs,
              expiryMs: scenario.aggregator.expiryMs,
              maxRetries: scenario.aggregator.maxRetries,
              selection: scenario.aggregator.selection,
            },
          },
          ...(registries.length > 1
            ? {
                replication: {
                  peers: registryPeers
                    .filter((peer) => peer.name !== registry.name)
                    .map(({ peerId, address }) => ({ peerId, address })),
                  checkIntervalMs: scenario.chain.blockTimeMs,
                  requestTimeoutMs: scenario.chain.blockTimeMs,
                },
              }
            : {}),
        },
      );
    // libp2p: the registries reach each other before virtual time starts.
    for (const [index, from] of registries.entries()) {
      for (const to of registries.slice(index + 1))
        await network.preconnect(from.network, to.network);
    }
    for (const registry of registries) {
      registry.node = buildRegistry(registry);
      await registry.node.start();
    }
    cleanups.push(async () => {
      for (const registry of [...registries].reverse()) {
        if (registry.running) await registry.node.stop();
        await registry.network.stop();
        await registry.store.close();
      }
    });
    const registry = registries[0] as SimRegistry;

    // Operators.
    const bootstrap = registries.flatMap((entry) => network.bootstrapAddresses(entry.network));
    /** An operator configured with `registries: [...]` knows (and joins) only those. */
    const bootstrapOf = (operatorName: string): string[] => {
      const only = scenario.operators.find((setup) => setup.name === operatorName)?.registries;
      if (only === undefined) return bootstrap;
      return registries
        .filter((entry) => only.includes(entry.name))
        .flatMap((entry) => network.bootstrapAddresses(entry.network));
    };
    const operators: SimOperator[] = [];
    for (const [index, entry] of operatorKeys.entries()) {
      const peer = await network.createPeer(entry.setup.name.replace(/[^A-Za-z0-9]/g, ''));
      await peer.start();
      const store = operatorStores[index] as OperatorStore;
      const behaviour = { current: createBehaviour(entry.setup.behaviour) };
      const operator: SimOperator = {
        name: entry.setup.name,
        address: entry.address,
        operatorKey: entry.operatorKey,
        signingKeys: entry.signingKeys,
        keyIndex: 0,
        network: peer,
        store,
        behaviour,
        running: true,
        skewMs: 0,
        node: undefined as unknown as OperatorNode,
      };
      operator.node = buildOperator(operator);
      operators.push(operator);
    }
    function buildOperator(operator: SimOperator): OperatorNode {
      const delegating: OperatorBehaviour = {
        get spec(): OperatorBehaviourSpec {
          return operator.behaviour.current.spec;
        },
        get label() {
          return operator.behaviour.current.label;
        },
        plan: (honest, context) => operator.behaviour.current.plan(honest, context),
      };
      return createOperatorNode(
        {
          clock: skewedClock(clock, () => operator.skewMs),
          rng: createSeededRng(`${seed}:operator:${operator.name}`),
          network: operator.network,
          chains: faultable,
          store: operator.store,
          secp256k1,
          log: createTraceLogger(trace, relative, operator.name),
          behaviour: delegating,
        },
        {
          operatorAddress: operator.address,
          signingPrivateKeys: operator.signingKeys,
          registryBootstrapAddresses: bootstrapOf(operator.name),
          // Configured with some registries only: it still takes tasks from all of them (its
          // join reaches the others by replication).
          trustedRegistryPeerIds: registries.map((entry) => entry.network.peerId),
          join: {
            notRegisteredRetry: {
              initialDelayMs: scenario.chain.blockTimeMs,
              maxDelayMs: scenario.chain.blockTimeMs * 4,
              multiplier: 2,
              jitterRatio: 0.2,
            },
          },
        },
      );
    }
    // libp2p: every operator is connected to the registry, and the subscriptions its node makes
    // are known on both sides, before virtual time starts (a hundred handshakes take wall time).
    for (const entry of registries) {
      await forEachLimited(operators, PRECONNECT_CONCURRENCY, (operator) =>
        network.preconnect(operator.network, entry.network),
      );
    }
    await network.duringStartup(async () => {
      for (const operator of operators) await operator.node.start();
      if (network.mode === 'libp2p') await clock.settle();
    });
    cleanups.push(async () => {
      for (const operator of [...operators].reverse()) {
        if (operator.running) await operator.node.stop().catch(() => {});
        await operator.network.stop();
        await operator.store.close();
      }
    });

    return {
      scenario,
      seed,
      clock,
      startMs,
      rng,
      gate,
      net: network,
      testbed,
      chains: faultable,
      chainReadCache,
      epochParams,
      registry,
      registries,
      registryByName: new Map(registries.map((entry) => [entry.name, entry])),
      operators,
      operatorByName: new Map(operators.map((o) => [o.name, o])),
      users,
      rpcFaults,
      rebuildOperator: buildOperator,
      rebuildRegistry: buildRegistry,
      mineBlock,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
