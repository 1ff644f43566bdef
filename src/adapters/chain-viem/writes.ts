import type { Account, Address, Chain, Hash, PublicClient, Transport, WalletClient } from 'viem';
import { ecdsaStakeRegistryAbi } from '../../../contracts-abi/ECDSAStakeRegistry.ts';
import { stateManagerAbi } from '../../../contracts-abi/StateManager.ts';
import { ChainRpcError, InvalidChainArgumentError } from '../../chain/errors.ts';
import { type ErrorContext, withChainErrors } from './map-error.ts';
import { checkAddress, checkUint256 } from './validate.ts';

/** A wallet client that has an account (the sender of every write). */
export type SigningClient = WalletClient<Transport, Chain | undefined, Account>;

export interface WriteContext {
  publicClient: PublicClient;
  walletClient: SigningClient;
  label: string;
  rpcUrl: string;
}

const MAX_BATCH_SIZE = 100;

/**
 * Simulates first so a revert surfaces as a typed error naming the reason before anything is
 * sent, then sends. Returns the transaction hash; with manual mining the caller mines.
 */
async function write(
  ctx: WriteContext,
  call: string,
  contract: { name: string; address: Address },
  request: Parameters<PublicClient['simulateContract']>[0],
): Promise<Hash> {
  const context: ErrorContext = { chain: ctx.label, call, rpcUrl: ctx.rpcUrl, contract };
  return withChainErrors(context, async () => {
    const { request: prepared } = await ctx.publicClient.simulateContract({
      ...request,
      account: ctx.walletClient.account,
    });
    return ctx.walletClient.writeContract(
      prepared as Parameters<SigningClient['writeContract']>[0],
    );
  });
}

/** Waits for a receipt and fails with a typed error when the transaction reverted. */
export async function waitForSuccess(ctx: WriteContext, call: string, hash: Hash): Promise<bigint> {
  const context = { chain: ctx.label, call, rpcUrl: ctx.rpcUrl };
  const receipt = await withChainErrors(context, () =>
    ctx.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 }),
  );
  if (receipt.status !== 'success') {
    throw new ChainRpcError(
      `transaction ${hash} reverted in block ${receipt.blockNumber}`,
      context,
    );
  }
  return receipt.blockNumber;
}

export function createRegistryWriter(ctx: WriteContext, registryAddress: Address) {
  const contract = { name: 'ECDSAStakeRegistry', address: registryAddress };
  const base = { address: registryAddress, abi: ecdsaStakeRegistryAbi } as const;
  const context = (call: string) => ({ chain: ctx.label, call });
  return {
    /** Owner only: the testbed's stand-in for EigenLayer registration and delegation. */
    registerOperator(args: { operator: Address; signingKey: Address; weight: bigint }) {
      const call = 'registerOperator';
      checkAddress('operator', args.operator, context(call));
      checkAddress('signingKey', args.signingKey, context(call));
      checkUint256('weight', args.weight, context(call));
      return write(ctx, call, contract, {
        ...base,
        functionName: 'registerOperator',
        args: [args.operator, args.signingKey, args.weight],
      });
    },
    /** The operator itself or the owner. */
    deregisterOperator(args: { operator: Address }) {
      checkAddress('operator', args.operator, context('deregisterOperator'));
      return write(ctx, 'deregisterOperator', contract, {
        ...base,
        functionName: 'deregisterOperator',
        args: [args.operator],
      });
    },
    /** Sent by the operator: rotates its signing key from its next effective epoch. */
    updateOperatorSigningKey(args: { newSigningKey: Address }) {
      checkAddress('newSigningKey', args.newSigningKey, context('updateOperatorSigningKey'));
      return write(ctx, 'updateOperatorSigningKey', contract, {
        ...base,
        functionName: 'updateOperatorSigningKey',
        args: [args.newSigningKey],
      });
    },
    updateOperatorWeight(args: { operator: Address; weight: bigint }) {
      const call = 'updateOperatorWeight';
      checkAddress('operator', args.operator, context(call));
      checkUint256('weight', args.weight, context(call));
      return write(ctx, call, contract, {
        ...base,
        functionName: 'updateOperatorWeight',
        args: [args.operator, args.weight],
      });
    },
    updateMinimumWeight(args: { minimumWeight: bigint }) {
      checkUint256('minimumWeight', args.minimumWeight, context('updateMinimumWeight'));
      return write(ctx, 'updateMinimumWeight', contract, {
        ...base,
        functionName: 'updateMinimumWeight',
        args: [args.minimumWeight],
      });
    },
    /** An absolute threshold weight; 0 returns to the automatic ceil(2/3 of total). */
    updateStakeThreshold(args: { thresholdWeight: bigint }) {
      checkUint256('thresholdWeight', args.thresholdWeight, context('updateStakeThreshold'));
      return write(ctx, 'updateStakeThreshold', contract, {
        ...base,
        functionName: 'updateStakeThreshold',
        args: [args.thresholdWeight],
      });
    },
  };
}

export type RegistryWriter = ReturnType<typeof createRegistryWriter>;

export function createStateManagerWriter(ctx: WriteContext, stateManagerAddress: Address) {
  const contract = { name: 'StateManager', address: stateManagerAddress };
  const base = { address: stateManagerAddress, abi: stateManagerAbi } as const;
  return {
    /** Stores `key → value` for the sending account. */
    setValue(args: { key: bigint; value: bigint }) {
      const context = { chain: ctx.label, call: 'setValue' };
      checkUint256('key', args.key, context);
      checkUint256('value', args.value, context);
      return write(ctx, 'setValue', contract, {
        ...base,
        functionName: 'setValue',
        args: [args.key, args.value],
      });
    },
    /** At most 100 entries per call (the contract's limit, checked here first). */
    batchSetValues(
      entries: readonly { key: bigint; value: bigint }[],
      options?: { unchecked?: boolean },
    ) {
      const context = { chain: ctx.label, call: 'batchSetValues' };
      if (!options?.unchecked && entries.length > MAX_BATCH_SIZE) {
        throw new InvalidChainArgumentError(
          'entries',
          `holds ${entries.length} entries; at most ${MAX_BATCH_SIZE} per batch`,
          context,
        );
      }
      for (const [i, e] of entries.entries()) {
        checkUint256(`entries[${i}].key`, e.key, context);
        checkUint256(`entries[${i}].value`, e.value, context);
      }
      return write(ctx, 'batchSetValues', contract, {
        ...base,
        functionName: 'batchSetValues',
        args: [entries.map((e) => ({ key: e.key, value: e.value }))],
      });
    },
  };
}

export type StateManagerWriter = ReturnType<typeof createStateManagerWriter>;
