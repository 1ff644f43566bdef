import { createWalletClient, defineChain, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { spottedConsumerAbi } from '../../contracts-abi/SpottedConsumer.ts';
import { createRpcClient } from '../adapters/chain-viem/connect.ts';
import { createViemConsumerChain } from '../adapters/chain-viem/consumer.ts';
import { withChainErrors } from '../adapters/chain-viem/map-error.ts';
import {
  type ConsumerChain,
  type ConsumerChains,
  createConsumerChains,
} from '../aggregator/delivery-ports.ts';
import { ChainIdMismatchError, ContractNotFoundError } from '../chain/errors.ts';
import type { RegistryConfig } from '../config/schema.ts';
import { ConsumerSetupError } from './errors.ts';

/** Consumer contracts of the configuration, as the aggregator's `consumers` port. */
export type ConsumersSection = RegistryConfig['consumers'];

/**
 * Connects each configured SpottedConsumer with its submitting account: checks the endpoint's
 * chain id and that the address holds a consumer (a read of `storedCount`), so a wrong URL or
 * address fails the start naming `consumers.<n>.…`. `submitterKeys[i]` is the private key of
 * `consumers[i]` (the CLI unlocks it; it is never logged).
 */
export async function connectConsumers(
  section: ConsumersSection,
  chains: RegistryConfig['chains'],
  submitterKeys: readonly Hex[],
): Promise<ConsumerChains | undefined> {
  if (section.length === 0) return undefined;
  const consumers: ConsumerChain[] = [];
  for (const [index, consumer] of section.entries()) {
    const key = submitterKeys[index];
    if (key === undefined) {
      throw new ConsumerSetupError(`consumers.${index}`, 'no submitter key was loaded');
    }
    consumers.push(await connectOne(consumer, index, chains, key));
  }
  return createConsumerChains(consumers);
}

async function connectOne(
  consumer: ConsumersSection[number],
  index: number,
  chains: RegistryConfig['chains'],
  key: Hex,
): Promise<ConsumerChain> {
  const rpcUrl = consumer.rpcUrl ?? rpcUrlOf(chains, consumer.chainId);
  const label = `consumer chain ${consumer.chainId}`;
  const publicClient = createRpcClient(rpcUrl, {
    requestTimeoutMs: chains.requestTimeoutMs,
    retryCount: chains.retryCount,
  });
  const urlKey = `consumers.${index}.${consumer.rpcUrl === undefined ? 'chainId' : 'rpcUrl'}`;
  const actual = await withChainErrors({ chain: label, call: 'connect', rpcUrl }, () =>
    publicClient.getChainId(),
  ).catch((error: unknown) => {
    throw new ConsumerSetupError(urlKey, describe(error), error);
  });
  if (actual !== consumer.chainId) {
    const error = new ChainIdMismatchError(consumer.chainId, actual, rpcUrl, 'connect');
    throw new ConsumerSetupError(urlKey, error.message, error);
  }
  try {
    await withChainErrors(
      {
        chain: label,
        call: 'connect',
        rpcUrl,
        contract: { name: 'SpottedConsumer', address: consumer.address },
      },
      () =>
        publicClient.readContract({
          address: consumer.address,
          abi: spottedConsumerAbi,
          functionName: 'storedCount',
        }),
    );
  } catch (error) {
    const notFound =
      error instanceof ContractNotFoundError
        ? error
        : new ContractNotFoundError(
            'SpottedConsumer',
            consumer.address,
            { chain: label, call: 'connect' },
            error,
          );
    throw new ConsumerSetupError(`consumers.${index}.address`, notFound.message, notFound);
  }
  const chain = defineChain({
    id: consumer.chainId,
    name: `chain ${consumer.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const walletClient = createWalletClient({
    account: privateKeyToAccount(key),
    chain,
    transport: http(rpcUrl, { timeout: chains.requestTimeoutMs, retryCount: chains.retryCount }),
  });
  return createViemConsumerChain(
    { publicClient, walletClient, label: `chain ${consumer.chainId}`, rpcUrl },
    { chainId: consumer.chainId, consumerAddress: consumer.address },
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The submitting account of each consumer (for the start log: addresses, never keys). */
export function submitterAddresses(submitterKeys: readonly Hex[]): string[] {
  return submitterKeys.map((key) => privateKeyToAccount(key).address);
}

function rpcUrlOf(chains: RegistryConfig['chains'], chainId: number): string {
  if (chains.main.chainId === chainId) return chains.main.rpcUrl;
  const state = chains.state.find((s) => s.chainId === chainId);
  // The schema guarantees one of the two or an explicit rpcUrl.
  if (!state) throw new Error(`chain ${chainId} has no configured RPC endpoint`);
  return state.rpcUrl;
}
