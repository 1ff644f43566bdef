import type { Address, Hex } from 'viem';
import type { EpochParams } from '../core/epoch-math.ts';

/**
 * What node code reads from and writes to chains (SPEC §6). Every read names its block or epoch
 * explicitly where the answer depends on it, so results are reproducible.
 */

/** A block header: enough to follow heads and detect reorgs. */
export interface BlockHeader {
  number: bigint;
  hash: Hex;
  parentHash: Hex;
  timestampSec: bigint;
}

/** Epoch constants of the EpochManager (immutable after deployment). */
export type { EpochParams } from '../core/epoch-math.ts';

/** One StateManager history entry. */
export interface HistoryEntry {
  value: bigint;
  blockNumber: bigint;
  timestampSec: bigint;
}

export interface OperatorRegisteredEvent {
  kind: 'registered';
  operator: Address;
  signingKey: Address;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
  timestampSec: bigint;
}

export interface OperatorDeregisteredEvent {
  kind: 'deregistered';
  operator: Address;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
}

export type OperatorEvent = OperatorRegisteredEvent | OperatorDeregisteredEvent;

/** Reads shared by every chain. */
export interface ChainReader {
  readonly chainId: number;
  /** A short label for messages: "main chain 31337", "state chain 10". */
  readonly label: string;
  getBlockNumber(): Promise<bigint>;
  getBlock(blockNumber: bigint | 'latest'): Promise<BlockHeader>;
}

/** The main chain: EpochManager and ECDSAStakeRegistry. */
export interface MainChain extends ChainReader {
  readonly epochManagerAddress: Address;
  readonly stakeRegistryAddress: Address;
  getEpochParams(): Promise<EpochParams>;
  getCurrentEpoch(options?: { blockNumber?: bigint }): Promise<number>;
  getEffectiveEpochForBlock(blockNumber: bigint): Promise<number>;
  getStartBlockForEpoch(epoch: number): Promise<bigint>;
  getOperatorWeightAtEpoch(args: { operator: Address; epoch: number }): Promise<bigint>;
  getOperatorSigningKeyAtEpoch(args: { operator: Address; epoch: number }): Promise<Address>;
  getTotalWeightAtEpoch(epoch: number): Promise<bigint>;
  getThresholdWeightAtEpoch(epoch: number): Promise<bigint>;
  getMinimumWeight(options?: { blockNumber?: bigint }): Promise<bigint>;
  getOperatorBySigningKey(signingKey: Address): Promise<Address | undefined>;
  /** Registration and deregistration events in [fromBlock, toBlock], in chain order. */
  getOperatorEvents(range: { fromBlock: bigint; toBlock: bigint }): Promise<OperatorEvent[]>;
  /**
   * EIP-1271 check. Resolves when the registry returns the magic value; a revert rejects with a
   * ContractRevertError naming the reason (NotSorted, InsufficientSignedStake, …).
   */
  verifySignatureSet(args: {
    digest: Hex;
    signatureData: Hex;
    blockNumber?: bigint;
  }): Promise<void>;
}

/** A chain with a StateManager whose history Spotted proves. */
export interface StateChain extends ChainReader {
  readonly stateManagerAddress: Address;
  getHistoryAtBlock(args: {
    user: Address;
    key: bigint;
    blockNumber: bigint;
  }): Promise<HistoryEntry>;
  getHistoryAtTimestamp(args: {
    user: Address;
    key: bigint;
    timestampSec: bigint;
  }): Promise<HistoryEntry>;
}

/** The chains a node is configured with. */
export interface Chains {
  readonly main: MainChain;
  /** Throws UnknownChainError for a chain id that is not configured. */
  state(chainId: number): StateChain;
  readonly stateChainIds: readonly number[];
}
