import {
  type Address,
  BaseError,
  encodeFunctionData,
  keccak256,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
} from 'viem';
import { ecdsaStakeRegistryAbi } from '../../../contracts-abi/ECDSAStakeRegistry.ts';
import { spottedConsumerAbi } from '../../../contracts-abi/SpottedConsumer.ts';
import type {
  ConsumerChain,
  ConsumerSubmission,
  SignedTransaction,
  TransactionStatus,
} from '../../aggregator/delivery-ports.ts';
import { type ErrorContext, withChainErrors } from './map-error.ts';
import { checkAddress, checkBytes32 } from './validate.ts';
import type { WriteContext } from './writes.ts';

/** The consumer's ABI plus the registry's errors, which `submit` lets through unchanged. */
const submitAbi = [
  ...spottedConsumerAbi,
  ...ecdsaStakeRegistryAbi.filter((item) => item.type === 'error'),
] as const;

/** Node errors meaning "this nonce is taken": the transaction can never be mined any more. */
const NONCE_USED = /nonce too low|nonce has already been used|already been used|invalid nonce/i;
/** The node has this exact transaction already: sending it again changed nothing. */
const ALREADY_KNOWN = /already known|already imported|known transaction/i;

/**
 * The `ConsumerChain` port over viem: a SpottedConsumer contract and the account that submits
 * to it (`ctx.walletClient.account`). The aggregator processes one submission per chain at a time,
 * so nonces come from the node's pending count without a local nonce manager; give each
 * aggregator its own submitting account.
 */
export function createViemConsumerChain(
  ctx: WriteContext,
  options: { chainId: number; consumerAddress: Address },
): ConsumerChain {
  const { publicClient, walletClient } = ctx;
  const address = options.consumerAddress;
  const label = `consumer on ${ctx.label} (${address})`;
  const contract = { name: 'SpottedConsumer', address };
  const context = (call: string): ErrorContext => ({
    chain: ctx.label,
    call,
    rpcUrl: ctx.rpcUrl,
    contract,
  });
  checkAddress('consumerAddress', address, context('connect'));

  return {
    chainId: options.chainId,
    label,

    isStored(taskId) {
      checkBytes32('taskId', taskId, context('isStored'));
      return withChainErrors(context('isStored'), () =>
        publicClient.readContract({
          address,
          abi: spottedConsumerAbi,
          functionName: 'isStored',
          args: [taskId],
        }),
      );
    },

    async prepareSubmission(submission: ConsumerSubmission): Promise<SignedTransaction> {
      return withChainErrors(context('submit'), async () => {
        const args = [
          submission.user,
          submission.chainId,
          submission.blockNumber,
          Number(submission.timestampSec),
          submission.epoch,
          submission.key,
          submission.value,
          submission.signatureData,
        ] as const;
        // Simulate first: a revert names its reason (the registry's included) before signing.
        await publicClient.simulateContract({
          address,
          abi: submitAbi,
          functionName: 'submit',
          args,
          account: walletClient.account,
        });
        const prepared = await walletClient.prepareTransactionRequest({
          account: walletClient.account,
          chain: walletClient.chain,
          to: address,
          data: encodeFunctionData({ abi: spottedConsumerAbi, functionName: 'submit', args }),
        });
        const raw = await walletClient.signTransaction(
          prepared as Parameters<typeof walletClient.signTransaction>[0],
        );
        return { raw, hash: keccak256(raw), nonce: Number(prepared.nonce) };
      });
    },

    async sendTransaction(raw) {
      try {
        await publicClient.sendRawTransaction({ serializedTransaction: raw });
        return 'sent';
      } catch (error) {
        const text = describe(error);
        if (NONCE_USED.test(text)) return 'nonceUsed';
        if (ALREADY_KNOWN.test(text)) return 'sent';
        return withChainErrors(context('sendRawTransaction'), () => Promise.reject(error));
      }
    },

    async transactionStatus(hash): Promise<TransactionStatus> {
      checkBytes32('hash', hash, context('transactionStatus'));
      return withChainErrors(context('transactionStatus'), async () => {
        try {
          const receipt = await publicClient.getTransactionReceipt({ hash });
          return receipt.status === 'success' ? 'success' : 'reverted';
        } catch (error) {
          if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
        }
        try {
          await publicClient.getTransaction({ hash });
          return 'pending';
        } catch (error) {
          if (error instanceof TransactionNotFoundError) return 'unknown';
          throw error;
        }
      });
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof BaseError) {
    const details: string[] = [error.shortMessage, error.details ?? ''];
    error.walk((e) => {
      if (e instanceof Error) details.push(e.message);
      return false;
    });
    return details.join(' ');
  }
  return error instanceof Error ? error.message : String(error);
}
