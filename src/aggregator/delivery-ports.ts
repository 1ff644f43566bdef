import type { Address, Hex } from 'viem';

/**
 * What the aggregator's deliveries are written against (ports; adapters in
 * `src/adapters/http/webhook-sender.ts` and `src/adapters/chain-viem/consumer.ts`).
 */

/** HTTP POST of a result to a client's callback URL. */
export interface WebhookSender {
  /**
   * Sends `body` (JSON) and resolves with the response status, whatever it is. Rejects only when
   * no response came (connection refused, timeout, TLS, …), with the cause in the message.
   * Redirects are not followed.
   */
  post(
    url: string,
    body: string,
    options: { headers: Readonly<Record<string, string>>; timeoutMs: number },
  ): Promise<{ status: number }>;
}

/** The proven fields and signature set `SpottedConsumer.submit` takes. */
export interface ConsumerSubmission {
  user: Address;
  chainId: number;
  blockNumber: bigint;
  timestampSec: bigint;
  epoch: number;
  key: bigint;
  value: bigint;
  signatureData: Hex;
}

/** A transaction signed but not necessarily sent: sending `raw` again can only land it once. */
export interface SignedTransaction {
  hash: Hex;
  raw: Hex;
  nonce: number;
}

export type TransactionStatus = 'success' | 'reverted' | 'pending' | 'unknown';

/** A SpottedConsumer contract on a destination chain, and the account that submits to it. */
export interface ConsumerChain {
  readonly chainId: number;
  /** For messages: "consumer on chain 31337 (0x…)". */
  readonly label: string;
  /** Whether the contract already stores the task (the exactly-once witness). */
  isStored(taskId: Hex): Promise<boolean>;
  /**
   * Simulates `submit(...)` and signs it without sending. A revert rejects with a
   * ContractRevertError naming the reason (TaskAlreadyStored, InsufficientSignedStake, …).
   */
  prepareSubmission(submission: ConsumerSubmission): Promise<SignedTransaction>;
  /**
   * Sends a signed transaction. Sending one the node already has is harmless (`sent`);
   * `nonceUsed` means another transaction took its nonce, so this one can never be mined.
   */
  sendTransaction(raw: Hex): Promise<'sent' | 'nonceUsed'>;
  /** Mined (success / reverted), waiting in the node's pool (pending), or not known (unknown). */
  transactionStatus(hash: Hex): Promise<TransactionStatus>;
}

/** The consumer contracts proofs may be submitted to, by destination chain id. */
export interface ConsumerChains {
  readonly chainIds: readonly number[];
  get(chainId: number): ConsumerChain | undefined;
}

export function createConsumerChains(consumers: readonly ConsumerChain[]): ConsumerChains {
  const byId = new Map(consumers.map((consumer) => [consumer.chainId, consumer]));
  return {
    chainIds: [...byId.keys()].sort((a, b) => a - b),
    get: (chainId) => byId.get(chainId),
  };
}
