import type { Address, PublicClient } from 'viem';
import { stateManagerAbi } from '../../../contracts-abi/StateManager.ts';
import type { HistoryEntry, StateChain } from '../../ports/chain.ts';
import { createChainReader } from './chain-reader.ts';
import { withChainErrors } from './map-error.ts';
import { checkAddress, checkBlockNumber, checkUint256 } from './validate.ts';

export interface ViemStateChainOptions {
  client: PublicClient;
  chainId: number;
  rpcUrl: string;
  stateManagerAddress: Address;
  /** "main chain 1" when the main chain also hosts a StateManager. */
  label?: string;
}

/** The state-chain port over a viem public client. */
export function createViemStateChain(options: ViemStateChainOptions): StateChain {
  const { client, chainId, rpcUrl, stateManagerAddress } = options;
  const label = options.label ?? `state chain ${chainId}`;
  const contract = { name: 'StateManager', address: stateManagerAddress };
  const context = (call: string) => ({ chain: label, call, rpcUrl, contract });
  const toEntry = (h: { value: bigint; blockNumber: bigint; timestamp: number }): HistoryEntry => ({
    value: h.value,
    blockNumber: h.blockNumber,
    timestampSec: BigInt(h.timestamp),
  });

  return {
    ...createChainReader({ client, chainId, rpcUrl, label }),
    stateManagerAddress,

    async getHistoryAtBlock({ user, key, blockNumber }) {
      const ctx = context('getHistoryAtBlock');
      checkAddress('user', user, ctx);
      checkUint256('key', key, ctx);
      checkBlockNumber('blockNumber', blockNumber, ctx);
      const entry = await withChainErrors(ctx, () =>
        client.readContract({
          address: stateManagerAddress,
          abi: stateManagerAbi,
          functionName: 'getHistoryAtBlock',
          args: [user, key, blockNumber],
        }),
      );
      return toEntry(entry);
    },

    async getHistoryAtTimestamp({ user, key, timestampSec }) {
      const ctx = context('getHistoryAtTimestamp');
      checkAddress('user', user, ctx);
      checkUint256('key', key, ctx);
      checkUint256('timestampSec', timestampSec, ctx);
      const entry = await withChainErrors(ctx, () =>
        client.readContract({
          address: stateManagerAddress,
          abi: stateManagerAbi,
          functionName: 'getHistoryAtTimestamp',
          args: [user, key, timestampSec],
        }),
      );
      return toEntry(entry);
    },
  };
}
