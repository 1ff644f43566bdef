import { type Address, getAddress, type PublicClient, zeroAddress } from 'viem';
import { ecdsaStakeRegistryAbi } from '../../../contracts-abi/ECDSAStakeRegistry.ts';
import { epochManagerAbi } from '../../../contracts-abi/EpochManager.ts';
import { ChainRpcError } from '../../chain/errors.ts';
import type { EpochParams, MainChain, OperatorEvent } from '../../ports/chain.ts';
import { createChainReader } from './chain-reader.ts';
import { type ErrorContext, withChainErrors } from './map-error.ts';
import { checkAddress, checkBlockNumber, checkBytes32, checkEpoch } from './validate.ts';

const EIP1271_MAGIC_VALUE = '0x1626ba7e';

export interface ViemMainChainOptions {
  client: PublicClient;
  chainId: number;
  rpcUrl: string;
  epochManagerAddress: Address;
  stakeRegistryAddress: Address;
}

/** The main-chain port over a viem public client. */
export function createViemMainChain(options: ViemMainChainOptions): MainChain {
  const { client, chainId, rpcUrl } = options;
  const label = `main chain ${chainId}`;
  const epochManager = { name: 'EpochManager', address: options.epochManagerAddress };
  const registry = { name: 'ECDSAStakeRegistry', address: options.stakeRegistryAddress };
  const context = (call: string, contract?: ErrorContext['contract']): ErrorContext =>
    contract ? { chain: label, call, rpcUrl, contract } : { chain: label, call, rpcUrl };

  const readEpochManager = <T>(call: string, read: () => Promise<T>) =>
    withChainErrors(context(call, epochManager), read);
  const readRegistry = <T>(call: string, read: () => Promise<T>) =>
    withChainErrors(context(call, registry), read);

  let epochParams: Promise<EpochParams> | undefined;

  return {
    ...createChainReader({ client, chainId, rpcUrl, label }),
    epochManagerAddress: epochManager.address,
    stakeRegistryAddress: registry.address,

    getEpochParams() {
      // Immutable after deployment: read once. A failed read is not cached.
      epochParams ??= readEpochManager('getEpochParams', async () => {
        const read = (functionName: 'GENESIS_BLOCK' | 'EPOCH_LENGTH' | 'GRACE_PERIOD') =>
          client.readContract({
            address: epochManager.address,
            abi: epochManagerAbi,
            functionName,
          });
        const [genesisBlock, epochLengthBlocks, gracePeriodBlocks] = await Promise.all([
          read('GENESIS_BLOCK'),
          read('EPOCH_LENGTH'),
          read('GRACE_PERIOD'),
        ]);
        return { genesisBlock, epochLengthBlocks, gracePeriodBlocks };
      });
      epochParams.catch(() => {
        epochParams = undefined;
      });
      return epochParams;
    },

    getCurrentEpoch(opts) {
      const call = 'getCurrentEpoch';
      const blockNumber =
        opts?.blockNumber === undefined
          ? undefined
          : checkBlockNumber('blockNumber', opts.blockNumber, context(call));
      return readEpochManager(call, () =>
        client.readContract({
          address: epochManager.address,
          abi: epochManagerAbi,
          functionName: 'getCurrentEpoch',
          ...(blockNumber === undefined ? {} : { blockNumber }),
        }),
      );
    },

    getEffectiveEpochForBlock(blockNumber) {
      const call = 'getEffectiveEpochForBlock';
      checkBlockNumber('blockNumber', blockNumber, context(call));
      return readEpochManager(call, () =>
        client.readContract({
          address: epochManager.address,
          abi: epochManagerAbi,
          functionName: 'getEffectiveEpochForBlock',
          args: [blockNumber],
        }),
      );
    },

    getStartBlockForEpoch(epoch) {
      const call = 'getStartBlockForEpoch';
      checkEpoch('epoch', epoch, context(call));
      return readEpochManager(call, () =>
        client.readContract({
          address: epochManager.address,
          abi: epochManagerAbi,
          functionName: 'getStartBlockForEpoch',
          args: [epoch],
        }),
      );
    },

    getOperatorWeightAtEpoch({ operator, epoch }) {
      const call = 'getOperatorWeightAtEpoch';
      checkAddress('operator', operator, context(call));
      checkEpoch('epoch', epoch, context(call));
      return readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'getOperatorWeightAtEpoch',
          args: [operator, epoch],
        }),
      );
    },

    getOperatorSigningKeyAtEpoch({ operator, epoch }) {
      const call = 'getOperatorSigningKeyAtEpoch';
      checkAddress('operator', operator, context(call));
      checkEpoch('epoch', epoch, context(call));
      return readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'getOperatorSigningKeyAtEpoch',
          args: [operator, epoch],
        }),
      );
    },

    getTotalWeightAtEpoch(epoch) {
      const call = 'getTotalWeightAtEpoch';
      checkEpoch('epoch', epoch, context(call));
      return readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'getTotalWeightAtEpoch',
          args: [epoch],
        }),
      );
    },

    getThresholdWeightAtEpoch(epoch) {
      const call = 'getThresholdWeightAtEpoch';
      checkEpoch('epoch', epoch, context(call));
      return readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'getThresholdWeightAtEpoch',
          args: [epoch],
        }),
      );
    },

    getMinimumWeight(opts) {
      const blockNumber = opts?.blockNumber;
      return readRegistry('getMinimumWeight', () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'minimumWeight',
          ...(blockNumber === undefined ? {} : { blockNumber }),
        }),
      );
    },

    async getOperatorBySigningKey(signingKey) {
      const call = 'getOperatorBySigningKey';
      checkAddress('signingKey', signingKey, context(call));
      const operator = await readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'getOperatorBySigningKey',
          args: [signingKey],
        }),
      );
      return operator === zeroAddress ? undefined : operator;
    },

    async getOperatorEvents({ fromBlock, toBlock }) {
      const call = 'getOperatorEvents';
      checkBlockNumber('fromBlock', fromBlock, context(call));
      checkBlockNumber('toBlock', toBlock, context(call));
      if (toBlock < fromBlock) return [];
      const logs = await readRegistry(call, () =>
        client.getContractEvents({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          fromBlock,
          toBlock,
          strict: true,
        }),
      );
      const events: OperatorEvent[] = [];
      for (const log of logs) {
        if (log.blockHash === null || log.logIndex === null || log.transactionHash === null) {
          continue; // pending logs carry no position yet
        }
        const position = {
          blockNumber: log.blockNumber,
          blockHash: log.blockHash,
          logIndex: log.logIndex,
          transactionHash: log.transactionHash,
        };
        if (log.eventName === 'OperatorRegistered') {
          events.push({
            kind: 'registered',
            operator: getAddress(log.args._operator),
            signingKey: getAddress(log.args._signingKey),
            timestampSec: log.args.timestamp,
            ...position,
          });
        } else if (log.eventName === 'OperatorDeregistered') {
          events.push({
            kind: 'deregistered',
            operator: getAddress(log.args._operator),
            ...position,
          });
        }
      }
      return events.sort((a, b) =>
        a.blockNumber === b.blockNumber
          ? a.logIndex - b.logIndex
          : a.blockNumber < b.blockNumber
            ? -1
            : 1,
      );
    },

    async verifySignatureSet({ digest, signatureData, blockNumber }) {
      const call = 'isValidSignature';
      checkBytes32('digest', digest, context(call));
      const result = await readRegistry(call, () =>
        client.readContract({
          address: registry.address,
          abi: ecdsaStakeRegistryAbi,
          functionName: 'isValidSignature',
          args: [digest, signatureData],
          ...(blockNumber === undefined ? {} : { blockNumber }),
        }),
      );
      if (result !== EIP1271_MAGIC_VALUE) {
        throw new ChainRpcError(
          `isValidSignature returned ${result}, not the EIP-1271 magic value ${EIP1271_MAGIC_VALUE}`,
          context(call),
        );
      }
    },
  };
}
