import type { PublicClient } from 'viem';
import type { BlockHeader, ChainReader } from '../../ports/chain.ts';
import { withChainErrors } from './map-error.ts';
import { checkBlockNumber } from './validate.ts';

/** Block reads shared by the main and state chain ports. */
export function createChainReader(options: {
  client: PublicClient;
  chainId: number;
  rpcUrl: string;
  label: string;
}): ChainReader {
  const { client, chainId, rpcUrl, label } = options;
  return {
    chainId,
    label,
    getBlockNumber: () =>
      withChainErrors({ chain: label, call: 'getBlockNumber', rpcUrl }, () =>
        client.getBlockNumber({ cacheTime: 0 }),
      ),
    async getBlock(blockNumber): Promise<BlockHeader> {
      const context = { chain: label, call: 'getBlock', rpcUrl };
      if (blockNumber !== 'latest') checkBlockNumber('blockNumber', blockNumber, context);
      const block = await withChainErrors(context, () =>
        blockNumber === 'latest'
          ? client.getBlock({ blockTag: 'latest' })
          : client.getBlock({ blockNumber }),
      );
      return {
        number: block.number,
        hash: block.hash,
        parentHash: block.parentHash,
        timestampSec: block.timestamp,
      };
    },
  };
}
