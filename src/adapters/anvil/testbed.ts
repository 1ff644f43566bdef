import type { Address, PrivateKeyAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { MainChain, StateChain } from '../../ports/chain.ts';
import { createChains } from '../chain-viem/connect.ts';
import {
  deployMainChainContracts,
  deployStateManager,
  type MainChainDeployment,
} from '../chain-viem/deploy.ts';
import { createViemMainChain } from '../chain-viem/main-chain.ts';
import { createViemStateChain } from '../chain-viem/state-chain.ts';
import {
  createRegistryWriter,
  createStateManagerWriter,
  type RegistryWriter,
  type StateManagerWriter,
} from '../chain-viem/writes.ts';
import { type AnvilChain, startAnvil } from './anvil.ts';

/** Anvil's first well-known development key: the default deployer and registry owner. */
export const DEFAULT_DEPLOYER_KEY =
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;

export interface TestbedOptions {
  mainChainId?: number;
  /** Extra chains, each its own Anvil with a StateManager. */
  stateChainIds?: readonly number[];
  epochLengthBlocks?: bigint;
  gracePeriodBlocks?: bigint;
  minimumWeight?: bigint;
  deployerPrivateKey?: `0x${string}`;
  /** Switch to manual mining once the contracts are deployed (default: keep automine). */
  manualMining?: boolean;
  genesisTimestampSec?: bigint;
  /** Deterministic block timestamps (see StartAnvilOptions.blockTimestampIntervalSec). */
  blockTimestampIntervalSec?: number;
  /** See StartAnvilOptions.batchConcurrentReads. */
  batchConcurrentReads?: boolean;
}

export interface TestbedStateChain {
  anvil: AnvilChain;
  chain: StateChain;
  stateManager: Address;
  /** Writes `setValue`/`batchSetValues` as `account` (funded on first use). */
  writerFor(account: PrivateKeyAccount): Promise<StateManagerWriter>;
}

export interface Testbed extends AsyncDisposable {
  deployer: PrivateKeyAccount;
  mainAnvil: AnvilChain;
  deployment: MainChainDeployment;
  main: MainChain;
  /** Registry writes as the owner (register, weights, thresholds). */
  registry: RegistryWriter;
  /** Registry writes as an operator (rotate its key, deregister itself); funds it first. */
  registryAs(account: PrivateKeyAccount): Promise<RegistryWriter>;
  /** The main chain's own StateManager plus one per extra chain, by chain id. */
  stateChains: ReadonlyMap<number, TestbedStateChain>;
  chains: ReturnType<typeof createChains>;
  stop(): Promise<void>;
}

/**
 * Starts Anvil chains and deploys the Spotted contracts: EpochManager, ECDSAStakeRegistry and a
 * StateManager on the main chain, a StateManager on every extra chain. With a fresh deployer the
 * addresses are the same on every run. Stops every chain it started, even when setup fails.
 */
export async function startTestbed(options: TestbedOptions = {}): Promise<Testbed> {
  const deployer = privateKeyToAccount(options.deployerPrivateKey ?? DEFAULT_DEPLOYER_KEY);
  const started: AnvilChain[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((a) => a.stop()));
  };
  try {
    const mainChainId = options.mainChainId ?? 31337;
    const genesis = {
      ...(options.genesisTimestampSec === undefined
        ? {}
        : { genesisTimestampSec: options.genesisTimestampSec }),
      ...(options.blockTimestampIntervalSec === undefined
        ? {}
        : { blockTimestampIntervalSec: options.blockTimestampIntervalSec }),
      ...(options.batchConcurrentReads === true ? { batchConcurrentReads: true } : {}),
    };
    const mainAnvil = await startAnvil({ chainId: mainChainId, ...genesis });
    started.push(mainAnvil);
    const extraAnvils = await Promise.all(
      (options.stateChainIds ?? []).map((chainId) => startAnvil({ chainId, ...genesis })),
    );
    started.push(...extraAnvils);

    await mainAnvil.fund(deployer.address);
    const deployment = await deployMainChainContracts(
      mainAnvil.writeContext(deployer, 'main chain'),
      {
        epochLengthBlocks: options.epochLengthBlocks ?? 12n,
        gracePeriodBlocks: options.gracePeriodBlocks ?? 3n,
        minimumWeight: options.minimumWeight ?? 0n,
      },
    );
    const main = createViemMainChain({
      client: mainAnvil.publicClient,
      chainId: mainChainId,
      rpcUrl: mainAnvil.rpcUrl,
      epochManagerAddress: deployment.epochManager,
      stakeRegistryAddress: deployment.stakeRegistry,
    });

    const stateChains = new Map<number, TestbedStateChain>();
    const addStateChain = (anvil: AnvilChain, stateManager: Address, label?: string) => {
      const chain = createViemStateChain({
        client: anvil.publicClient,
        chainId: anvil.chainId,
        rpcUrl: anvil.rpcUrl,
        stateManagerAddress: stateManager,
        ...(label === undefined ? {} : { label }),
      });
      stateChains.set(anvil.chainId, {
        anvil,
        chain,
        stateManager,
        writerFor: async (account) => {
          await anvil.fund(account.address);
          return createStateManagerWriter(anvil.writeContext(account, chain.label), stateManager);
        },
      });
    };
    addStateChain(mainAnvil, deployment.stateManager, `main chain ${mainChainId}`);
    for (const anvil of extraAnvils) {
      await anvil.fund(deployer.address);
      const address = await deployStateManager(anvil.writeContext(deployer));
      addStateChain(anvil, address);
    }
    if (options.manualMining) {
      await Promise.all(started.map((a) => a.setAutomine(false)));
    }

    const stop = stopAll;
    return {
      deployer,
      mainAnvil,
      deployment,
      main,
      registry: createRegistryWriter(
        mainAnvil.writeContext(deployer, main.label),
        deployment.stakeRegistry,
      ),
      registryAs: async (account) => {
        await mainAnvil.fund(account.address);
        return createRegistryWriter(
          mainAnvil.writeContext(account, main.label),
          deployment.stakeRegistry,
        );
      },
      stateChains,
      chains: createChains(
        main,
        [...stateChains.values()].map((s) => s.chain),
      ),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
