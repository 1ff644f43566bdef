import { type Address, createPublicClient, http, type PublicClient } from 'viem';
import { stateManagerAbi } from '../../../contracts-abi/StateManager.ts';
import {
  ChainIdMismatchError,
  ChainRpcError,
  ContractNotFoundError,
  ContractRevertError,
  UnknownChainError,
} from '../../chain/errors.ts';
import type { Chains, MainChain, StateChain } from '../../ports/chain.ts';
import { createBatchingFetch } from './batching-fetch.ts';
import { createViemMainChain } from './main-chain.ts';
import { withChainErrors } from './map-error.ts';
import { createViemStateChain } from './state-chain.ts';

export interface MainChainConfig {
  rpcUrl: string;
  chainId: number;
  epochManager: Address;
  stakeRegistry: Address;
}

export interface StateChainConfig {
  rpcUrl: string;
  chainId: number;
  stateManager: Address;
}

export interface ChainsConfig {
  main: MainChainConfig;
  stateChains: readonly StateChainConfig[];
  /** Per-request RPC timeout. */
  requestTimeoutMs?: number;
  /** Retries of a failed RPC request before it surfaces as ChainRpcError. */
  retryCount?: number;
}

export function createRpcClient(
  rpcUrl: string,
  options: {
    requestTimeoutMs?: number;
    retryCount?: number;
    /** Requests started in the same event-loop turn travel as one JSON-RPC batch (batching-fetch.ts). */
    batchConcurrentRequests?: boolean;
  } = {},
): PublicClient {
  return createPublicClient({
    transport: http(rpcUrl, {
      timeout: options.requestTimeoutMs ?? 10_000,
      retryCount: options.retryCount ?? 1,
      retryDelay: 100,
      ...(options.batchConcurrentRequests === true ? { fetchFn: createBatchingFetch() } : {}),
    }),
    // Our own follow loops poll; viem's block cache would hide fresh heads.
    cacheTime: 0,
  });
}

/** Wraps configured ports into the `Chains` lookup; an unknown chain id is a typed error. */
export function createChains(main: MainChain, stateChains: readonly StateChain[]): Chains {
  const byId = new Map(stateChains.map((c) => [c.chainId, c]));
  const stateChainIds = [...byId.keys()].sort((a, b) => a - b);
  return {
    main,
    stateChainIds,
    state(chainId) {
      const chain = byId.get(chainId);
      if (!chain) throw new UnknownChainError(chainId, stateChainIds, 'state');
      return chain;
    },
  };
}

/**
 * Connects to every configured RPC endpoint and checks, before any node logic runs, that each
 * serves the configured chain id and that each configured address holds the expected contract.
 * Each failure names the chain, the endpoint and the setting to fix.
 */
export async function connectChains(config: ChainsConfig): Promise<Chains> {
  const clients = new Map<string, PublicClient>();
  const clientFor = (rpcUrl: string) => {
    let client = clients.get(rpcUrl);
    if (!client) {
      client = createRpcClient(rpcUrl, config);
      clients.set(rpcUrl, client);
    }
    return client;
  };

  const mainClient = clientFor(config.main.rpcUrl);
  await checkChainId(
    mainClient,
    config.main.chainId,
    config.main.rpcUrl,
    `main chain ${config.main.chainId}`,
  );
  const main = createViemMainChain({
    client: mainClient,
    chainId: config.main.chainId,
    rpcUrl: config.main.rpcUrl,
    epochManagerAddress: config.main.epochManager,
    stakeRegistryAddress: config.main.stakeRegistry,
  });
  await expectContract('EpochManager', config.main.epochManager, main.label, 'connect', () =>
    main.getEpochParams(),
  );
  await expectContract('ECDSAStakeRegistry', config.main.stakeRegistry, main.label, 'connect', () =>
    main.getMinimumWeight(),
  );

  const stateChains: StateChain[] = [];
  for (const sc of config.stateChains) {
    const client = clientFor(sc.rpcUrl);
    await checkChainId(client, sc.chainId, sc.rpcUrl, `state chain ${sc.chainId}`);
    const chain = createViemStateChain({
      client,
      chainId: sc.chainId,
      rpcUrl: sc.rpcUrl,
      stateManagerAddress: sc.stateManager,
    });
    await expectContract('StateManager', sc.stateManager, chain.label, 'connect', () =>
      withChainErrors(
        {
          chain: chain.label,
          call: 'connect',
          rpcUrl: sc.rpcUrl,
          contract: { name: 'StateManager', address: sc.stateManager },
        },
        () =>
          client.readContract({
            address: sc.stateManager,
            abi: stateManagerAbi,
            functionName: 'MAX_BATCH_SIZE',
          }),
      ),
    );
    stateChains.push(chain);
  }
  return createChains(main, stateChains);
}

async function checkChainId(
  client: PublicClient,
  expected: number,
  rpcUrl: string,
  label: string,
): Promise<void> {
  const actual = await withChainErrors({ chain: label, call: 'connect', rpcUrl }, () =>
    client.getChainId(),
  );
  if (actual !== expected) throw new ChainIdMismatchError(expected, actual, rpcUrl, 'connect');
}

/** A probe read that must succeed; code-less or foreign contracts become ContractNotFoundError. */
async function expectContract(
  name: string,
  address: Address,
  chain: string,
  call: string,
  probe: () => Promise<unknown>,
): Promise<void> {
  try {
    await probe();
  } catch (error) {
    if (error instanceof ContractNotFoundError) throw error;
    if (
      error instanceof ContractRevertError ||
      (error instanceof ChainRpcError && error.reverted)
    ) {
      throw new ContractNotFoundError(name, address, { chain, call }, error);
    }
    throw error;
  }
}
