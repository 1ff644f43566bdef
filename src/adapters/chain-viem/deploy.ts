import { type Address, getContractAddress, type Hash } from 'viem';
import {
  ecdsaStakeRegistryAbi,
  ecdsaStakeRegistryBytecode,
} from '../../../contracts-abi/ECDSAStakeRegistry.ts';
import { epochManagerAbi, epochManagerBytecode } from '../../../contracts-abi/EpochManager.ts';
import {
  spottedConsumerAbi,
  spottedConsumerBytecode,
} from '../../../contracts-abi/SpottedConsumer.ts';
import { stateManagerAbi, stateManagerBytecode } from '../../../contracts-abi/StateManager.ts';
import { ChainRpcError } from '../../chain/errors.ts';
import { withChainErrors } from './map-error.ts';
import { type WriteContext, waitForSuccess } from './writes.ts';

export interface MainChainDeployment {
  epochManager: Address;
  stakeRegistry: Address;
  stateManager: Address;
  /** The EpochManager's GENESIS_BLOCK. */
  genesisBlock: bigint;
}

export interface MainChainDeployOptions {
  epochLengthBlocks: bigint;
  gracePeriodBlocks: bigint;
  minimumWeight?: bigint;
}

/**
 * Deploys one contract and checks it landed at the address CREATE predicts from the deployer
 * and its nonce, so a fresh deployer always yields the same addresses. Needs a chain that mines
 * the transaction (automine, or a miner running).
 */
async function deploy(
  ctx: WriteContext,
  name: string,
  send: () => Promise<Hash>,
): Promise<{ address: Address; blockNumber: bigint }> {
  const from = ctx.walletClient.account.address;
  const context = { chain: ctx.label, call: `deploy ${name}`, rpcUrl: ctx.rpcUrl };
  const nonce = await withChainErrors(context, () =>
    ctx.publicClient.getTransactionCount({ address: from, blockTag: 'pending' }),
  );
  const predicted = getContractAddress({ from, nonce: BigInt(nonce) });
  const hash = await withChainErrors(context, send);
  const blockNumber = await waitForSuccess(ctx, `deploy ${name}`, hash);
  const receipt = await withChainErrors(context, () =>
    ctx.publicClient.getTransactionReceipt({ hash }),
  );
  if (receipt.contractAddress?.toLowerCase() !== predicted.toLowerCase()) {
    throw new ChainRpcError(
      `${name} deployed at ${receipt.contractAddress}, expected ${predicted} (nonce ${nonce})`,
      context,
    );
  }
  return { address: predicted, blockNumber };
}

/** Deploys EpochManager, ECDSAStakeRegistry and a StateManager on the main chain. */
export async function deployMainChainContracts(
  ctx: WriteContext,
  options: MainChainDeployOptions,
): Promise<MainChainDeployment> {
  const account = ctx.walletClient.account;
  const chain = ctx.walletClient.chain;
  const epochManager = await deploy(ctx, 'EpochManager', () =>
    ctx.walletClient.deployContract({
      abi: epochManagerAbi,
      bytecode: epochManagerBytecode,
      args: [options.epochLengthBlocks, options.gracePeriodBlocks],
      account,
      chain,
    }),
  );
  const stakeRegistry = await deploy(ctx, 'ECDSAStakeRegistry', () =>
    ctx.walletClient.deployContract({
      abi: ecdsaStakeRegistryAbi,
      bytecode: ecdsaStakeRegistryBytecode,
      args: [epochManager.address, options.minimumWeight ?? 0n],
      account,
      chain,
    }),
  );
  const stateManager = await deployStateManager(ctx);
  return {
    epochManager: epochManager.address,
    stakeRegistry: stakeRegistry.address,
    stateManager,
    genesisBlock: epochManager.blockNumber,
  };
}

/** Deploys a StateManager (one per state chain). */
export async function deployStateManager(ctx: WriteContext): Promise<Address> {
  const { address } = await deploy(ctx, 'StateManager', () =>
    ctx.walletClient.deployContract({
      abi: stateManagerAbi,
      bytecode: stateManagerBytecode,
      account: ctx.walletClient.account,
      chain: ctx.walletClient.chain,
    }),
  );
  return address;
}

/**
 * Deploys a SpottedConsumer that checks signature sets with the registry at `registry` (the
 * destination chain's ECDSAStakeRegistry, or any contract with its `isValidSignature`).
 */
export async function deploySpottedConsumer(
  ctx: WriteContext,
  options: { registry: Address },
): Promise<Address> {
  const { address } = await deploy(ctx, 'SpottedConsumer', () =>
    ctx.walletClient.deployContract({
      abi: spottedConsumerAbi,
      bytecode: spottedConsumerBytecode,
      args: [options.registry],
      account: ctx.walletClient.account,
      chain: ctx.walletClient.chain,
    }),
  );
  return address;
}
