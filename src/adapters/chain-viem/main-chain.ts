import {
  type Abi,
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type ContractFunctionReturnType,
  getAddress,
  type PublicClient,
  type ReadContractParameters,
  zeroAddress,
} from 'viem';
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

  type Mutability = 'pure' | 'view';
  /** One typed view call of `contract`, errors mapped to our chain errors naming `call`. */
  const view =
    <const abi extends Abi>(contract: { name: string; address: Address; abi: abi }) =>
    <
      name extends ContractFunctionName<abi, Mutability>,
      const args extends ContractFunctionArgs<abi, Mutability, name>,
    >(
      functionName: name,
      args: args,
      options: { blockNumber?: bigint | undefined; call?: string } = {},
    ): Promise<ContractFunctionReturnType<abi, Mutability, name, args>> => {
      const { blockNumber, call = functionName } = options;
      return withChainErrors(context(call, contract), () =>
        client.readContract({
          address: contract.address,
          abi: contract.abi,
          functionName,
          args,
          ...(blockNumber === undefined ? {} : { blockNumber }),
        } as ReadContractParameters<abi, name, args>),
      ) as Promise<ContractFunctionReturnType<abi, Mutability, name, args>>;
    };
  const epochManagerView = view({ ...epochManager, abi: epochManagerAbi });
  const registryView = view({ ...registry, abi: ecdsaStakeRegistryAbi });

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
      return epochManagerView('getCurrentEpoch', [], { blockNumber });
    },

    getEffectiveEpochForBlock(blockNumber) {
      const call = 'getEffectiveEpochForBlock';
      checkBlockNumber('blockNumber', blockNumber, context(call));
      return epochManagerView('getEffectiveEpochForBlock', [blockNumber]);
    },

    getStartBlockForEpoch(epoch) {
      const call = 'getStartBlockForEpoch';
      checkEpoch('epoch', epoch, context(call));
      return epochManagerView('getStartBlockForEpoch', [epoch]);
    },

    getOperatorWeightAtEpoch({ operator, epoch }) {
      const call = 'getOperatorWeightAtEpoch';
      checkAddress('operator', operator, context(call));
      checkEpoch('epoch', epoch, context(call));
      return registryView('getOperatorWeightAtEpoch', [operator, epoch]);
    },

    getOperatorSigningKeyAtEpoch({ operator, epoch }) {
      const call = 'getOperatorSigningKeyAtEpoch';
      checkAddress('operator', operator, context(call));
      checkEpoch('epoch', epoch, context(call));
      return registryView('getOperatorSigningKeyAtEpoch', [operator, epoch]);
    },

    getTotalWeightAtEpoch(epoch) {
      const call = 'getTotalWeightAtEpoch';
      checkEpoch('epoch', epoch, context(call));
      return registryView('getTotalWeightAtEpoch', [epoch]);
    },

    getThresholdWeightAtEpoch(epoch) {
      const call = 'getThresholdWeightAtEpoch';
      checkEpoch('epoch', epoch, context(call));
      return registryView('getThresholdWeightAtEpoch', [epoch]);
    },

    getMinimumWeight(opts) {
      return registryView('minimumWeight', [], {
        blockNumber: opts?.blockNumber,
        call: 'getMinimumWeight',
      });
    },

    async getOperatorBySigningKey(signingKey) {
      const call = 'getOperatorBySigningKey';
      checkAddress('signingKey', signingKey, context(call));
      const operator = await registryView('getOperatorBySigningKey', [signingKey]);
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
      const result = await registryView('isValidSignature', [digest, signatureData], {
        blockNumber,
      });
      if (result !== EIP1271_MAGIC_VALUE) {
        throw new ChainRpcError(
          `isValidSignature returned ${result}, not the EIP-1271 magic value ${EIP1271_MAGIC_VALUE}`,
          context(call),
        );
      }
    },
  };
}
