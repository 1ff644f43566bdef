import type { PGlite } from '@electric-sql/pglite';
import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createViemConsumerChain } from '../../src/adapters/chain-viem/consumer.ts';
import { deploySpottedConsumer } from '../../src/adapters/chain-viem/deploy.ts';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../../src/adapters/logger/memory-logger.ts';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import { createCryptoRng } from '../../src/adapters/rng/seeded-rng.ts';
import {
  createPglite,
  openPgliteOperatorStore,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { AggregatorOptions } from '../../src/aggregator/aggregator.ts';
import { createConsumerChains } from '../../src/aggregator/delivery-ports.ts';
import { createBehaviour, type OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';
import { createOperatorNode, type OperatorNode } from '../../src/operator/operator-node.ts';
import type { Chains, StateChain } from '../../src/ports/chain.ts';
import type { Network } from '../../src/ports/network.ts';
import type { RejectionReporter } from '../../src/ports/rejections.ts';
import { createRegistryNode, type RegistryNode } from '../../src/registry/registry-node.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';

export const STATE_CHAIN_ID = 10;
const clock = createSystemClock();
const secp256k1 = createNativeSecp256k1();

export interface ClusterOperatorSpec {
  weight: bigint;
  behaviour?: OperatorBehaviourSpec;
  /** Reads the state chain through this view (e.g. one that sees another value). */
  chains?: (chains: Chains) => Chains;
  /** Extra signing keys the node holds from the start (for a later rotation). */
  spareSigningKeys?: number;
}

export interface ClusterOperator {
  operatorKey: Hex;
  address: Address;
  signingKeys: Hex[];
  spec: ClusterOperatorSpec;
  network: Network;
  node: OperatorNode;
}

export interface Cluster {
  testbed: Testbed;
  registry: RegistryNode;
  registryStore: RegistryStore;
  registryNetwork: Network;
  apiUrl: string;
  operators: ClusterOperator[];
  /** The SpottedConsumer on the main chain the registry submits proofs to (`submitToChainId` 31337). */
  consumer: Address;
  /** Rebuilds the registry node over the same store, network identity aside (a restart). */
  restartRegistry(options?: { aggregator?: AggregatorOptions }): Promise<void>;
  waitFor(
    predicate: () => Promise<boolean> | boolean,
    description: string,
    limitMs?: number,
  ): Promise<void>;
  /** Waits for the head to reach the start of `epoch` plus the confirmations. */
  waitForRegistryEpoch(epoch: number): Promise<void>;
  /**
   * Waits until `count` operators are active at the registry and every running operator node has
   * adopted an epoch state listing all of them (so no task reaches a node that thinks it is out).
   */
  waitUntilReady(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** A view of the chains whose state chain reports every value `delta` higher. */
export function chainsSeeingOtherValues(delta: bigint) {
  return (chains: Chains): Chains => ({
    main: chains.main,
    stateChainIds: chains.stateChainIds,
    state(chainId) {
      const real = chains.state(chainId);
      const shifted: StateChain = {
        ...real,
        getHistoryAtBlock: async (args) => {
          const entry = await real.getHistoryAtBlock(args);
          return { ...entry, value: entry.value + delta };
        },
        getHistoryAtTimestamp: async (args) => {
          const entry = await real.getHistoryAtTimestamp(args);
          return { ...entry, value: entry.value + delta };
        },
      };
      return shifted;
    },
  });
}

const tcpNetwork = () =>
  createLibp2pNetwork({ transport: 'tcp', gossip: { heartbeatIntervalMs: 100 } });

/**
 * One registry and N operators as separate nodes in this process: Anvil chains (a main chain
 * and state chain 10) mined every `blockIntervalMs`, one PGlite with a schema per node, and
 * libp2p over TCP loopback. Operators are registered on chain before the nodes start.
 */
export async function startCluster(options: {
  operators: readonly ClusterOperatorSpec[];
  aggregator?: AggregatorOptions;
  epochLengthBlocks?: bigint;
  blockIntervalMs?: number;
  /** Where the nodes report refused messages (e.g. a NodeMetrics' recordRejection). */
  reportRejection?: { registry?: RejectionReporter; operators?: RejectionReporter };
}): Promise<Cluster> {
  const testbed = await startTestbed({
    stateChainIds: [STATE_CHAIN_ID],
    epochLengthBlocks: options.epochLengthBlocks ?? 12n,
    gracePeriodBlocks: 3n,
  });
  const stoppers: (() => Promise<void>)[] = [() => testbed.stop()];
  const stop = async () => {
    while (stoppers.length > 0)
      await stoppers
        .pop()?.()
        .catch(() => {});
  };
  try {
    let mining = true;
    const miner = (async () => {
      while (mining) {
        // Both chains move: the main chain drives epochs, the state chain gives new query points.
        await Promise.all(
          [
            ...new Set([
              testbed.mainAnvil,
              ...[...testbed.stateChains.values()].map((s) => s.anvil),
            ]),
          ].map((a) => a.mine(1).catch(() => {})),
        );
        await new Promise((resolve) => setTimeout(resolve, options.blockIntervalMs ?? 100));
      }
    })();
    stoppers.push(async () => {
      mining = false;
      await miner;
    });

    const operators = options.operators.map((spec) => {
      const operatorKey = generatePrivateKey();
      return {
        operatorKey,
        address: privateKeyToAccount(operatorKey).address,
        signingKeys: Array.from({ length: 1 + (spec.spareSigningKeys ?? 0) }, () =>
          generatePrivateKey(),
        ),
        spec,
      };
    });
    for (const op of operators) {
      await testbed.registry.registerOperator({
        operator: op.address,
        signingKey: secp256k1.addressOf(op.signingKeys[0] as Hex),
        weight: op.spec.weight,
      });
    }

    // A SpottedConsumer on the main chain (checking signatures with its registry), and the
    // account the registry submits proofs to it from.
    const consumer = await deploySpottedConsumer(
      testbed.mainAnvil.writeContext(testbed.deployer, testbed.main.label),
      { registry: testbed.deployment.stakeRegistry },
    );
    const submitter = privateKeyToAccount(generatePrivateKey());
    await testbed.mainAnvil.fund(submitter.address);
    const consumers = createConsumerChains([
      createViemConsumerChain(testbed.mainAnvil.writeContext(submitter, testbed.main.label), {
        chainId: testbed.mainAnvil.chainId,
        consumerAddress: consumer,
      }),
    ]);

    const pglite: PGlite = await createPglite();
    stoppers.push(async () => {
      await pglite.close();
    });
    const log = createMemoryLogger({ echo: process.env['SPOTTED_TEST_LOGS'] === '1' });
    const registryStore = await openPgliteRegistryStore({ pglite, clock }, { schema: 'registry' });
    stoppers.push(() => registryStore.close());

    const registryNetwork = await tcpNetwork();
    await registryNetwork.start();
    stoppers.push(() => registryNetwork.stop());
    const buildRegistry = (aggregator?: AggregatorOptions) =>
      createRegistryNode(
        {
          clock,
          network: registryNetwork,
          chains: testbed.chains,
          store: registryStore,
          secp256k1,
          log,
          consumers,
          ...(options.reportRejection?.registry
            ? { reportRejection: options.reportRejection.registry }
            : {}),
        },
        {
          confirmations: 2n,
          chainPollIntervalMs: 50,
          startBlock: testbed.deployment.genesisBlock,
          ...(aggregator
            ? { aggregator }
            : options.aggregator
              ? { aggregator: options.aggregator }
              : {}),
          http: { port: 0 },
        },
      );
    let registry = buildRegistry();
    await registry.start();
    let registryStopped = false;
    stoppers.push(async () => {
      if (!registryStopped) await registry.stop();
    });

    const started: ClusterOperator[] = [];
    for (const [index, op] of operators.entries()) {
      const network = await tcpNetwork();
      await network.start();
      stoppers.push(() => network.stop());
      const store = await openPgliteOperatorStore(
        { pglite, clock },
        { schema: `operator_${index}` },
      );
      stoppers.push(() => store.close());
      const node = createOperatorNode(
        {
          clock,
          rng: createCryptoRng(),
          network,
          chains: op.spec.chains ? op.spec.chains(testbed.chains) : testbed.chains,
          store,
          secp256k1,
          log,
          ...(op.spec.behaviour ? { behaviour: createBehaviour(op.spec.behaviour) } : {}),
          ...(options.reportRejection?.operators
            ? { reportRejection: options.reportRejection.operators }
            : {}),
        },
        {
          operatorAddress: op.address,
          signingPrivateKeys: op.signingKeys,
          registryBootstrapAddresses: registryNetwork.listenAddresses(),
          join: {
            retry: { initialDelayMs: 100, maxDelayMs: 500, multiplier: 2, jitterRatio: 0.2 },
            notRegisteredRetry: {
              initialDelayMs: 200,
              maxDelayMs: 1_000,
              multiplier: 2,
              jitterRatio: 0.2,
            },
          },
        },
      );
      await node.start();
      stoppers.push(() => node.stop());
      started.push({ ...op, network, node });
    }

    const waitFor: Cluster['waitFor'] = async (predicate, description, limitMs = 20_000) => {
      const deadline = Date.now() + limitMs;
      while (!(await predicate())) {
        if (Date.now() > deadline)
          throw new Error(`timed out after ${limitMs} ms waiting for: ${description}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const cluster: Cluster = {
      testbed,
      get registry() {
        return registry;
      },
      registryStore,
      registryNetwork,
      consumer,
      get apiUrl() {
        return registry.api?.url() ?? '';
      },
      operators: started,
      async restartRegistry(restart) {
        registryStopped = true;
        await registry.stop();
        registry = buildRegistry(restart?.aggregator);
        await registry.start();
        registryStopped = false;
      },
      waitFor,
      waitForRegistryEpoch: (epoch) =>
        waitFor(
          async () => ((await registryStore.epochStates.getLatest())?.epoch ?? -1) >= epoch,
          `registry epoch ${epoch}`,
        ),
      async waitUntilReady(count) {
        await waitFor(
          async () => (await registryStore.operators.listByStatus('active')).length === count,
          `${count} operators active at the registry`,
        );
        await waitFor(
          () => started.every((op) => (op.node.status().epoch?.operators.length ?? 0) >= count),
          'every operator node adopted the full operator set',
        );
      },
      stop,
    };
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}
