/**
 * Typed chain errors. Each has a stable `code`; messages name the chain and the call so an
 * operator knows which endpoint or address to fix.
 */

/** Revert reasons of our contracts, without the `StateManager__`-style prefix. */
export const CONTRACT_ERROR_NAMES = [
  // StateManager
  'NoHistoryFound',
  'BlockNotFound',
  'TimestampNotFound',
  'BatchTooLarge',
  'IndexOutOfBounds',
  // EpochManager
  'InvalidEpochLength',
  'InvalidGracePeriod',
  'BlockBeforeGenesis',
  'EpochOverflow',
  // ECDSAStakeRegistry
  'LengthMismatch',
  'InvalidLength',
  'InvalidSignature',
  'InvalidSignedWeight',
  'InsufficientSignedStake',
  'InsufficientWeight',
  'NotSorted',
  'OperatorAlreadyRegistered',
  'OperatorNotRegistered',
  'InvalidEpoch',
  'InvalidSigningKey',
  'SigningKeyAlreadyInUse',
  'NotAuthorized',
  // SpottedConsumer
  'TaskAlreadyStored',
  'InvalidSignatureSet',
] as const;

export type ContractErrorName = (typeof CONTRACT_ERROR_NAMES)[number];

export type ChainErrorCode =
  | 'CONTRACT_REVERT'
  | 'RPC_FAILED'
  | 'UNKNOWN_CHAIN'
  | 'CONTRACT_NOT_FOUND'
  | 'CHAIN_ID_MISMATCH'
  | 'INVALID_CHAIN_ARGUMENT'
  | 'REORG_BEYOND_DEPTH';

export interface ChainErrorContext {
  /** e.g. "main chain 31337" */
  chain: string;
  /** the action, e.g. "getHistoryAtBlock" */
  call: string;
}

export abstract class ChainError extends Error {
  abstract readonly code: ChainErrorCode;
  readonly chain: string;
  readonly call: string;

  constructor(message: string, context: ChainErrorContext, options?: { cause?: unknown }) {
    super(`${context.chain}: ${context.call}: ${message}`, options);
    this.chain = context.chain;
    this.call = context.call;
  }
}

/** The contract reverted with one of its named errors. */
export class ContractRevertError extends ChainError {
  readonly code = 'CONTRACT_REVERT';
  override readonly name = 'ContractRevertError';
  readonly errorName: ContractErrorName;

  constructor(errorName: ContractErrorName, context: ChainErrorContext, cause?: unknown) {
    super(`reverted with ${errorName}`, context, { cause });
    this.errorName = errorName;
  }
}

/** The RPC endpoint failed (unreachable, timed out, answered an error). */
export class ChainRpcError extends ChainError {
  readonly code = 'RPC_FAILED';
  override readonly name = 'ChainRpcError';
  readonly rpcUrl: string;
  /** True when the endpoint answered but the call reverted without a reason we know. */
  readonly reverted: boolean;

  constructor(
    detail: string,
    context: ChainErrorContext & { rpcUrl: string },
    cause?: unknown,
    options?: { reverted?: boolean },
  ) {
    super(`RPC request to ${context.rpcUrl} failed: ${detail}`, context, { cause });
    this.rpcUrl = context.rpcUrl;
    this.reverted = options?.reverted ?? false;
  }
}

/** A request named a chain id the node is not configured for. */
export class UnknownChainError extends ChainError {
  readonly code = 'UNKNOWN_CHAIN';
  override readonly name = 'UnknownChainError';
  readonly chainId: number;

  constructor(chainId: number, configured: readonly number[], call: string) {
    super(
      `chain id ${chainId} is not configured (configured state chains: ${configured.join(', ') || 'none'})`,
      { chain: `chain ${chainId}`, call },
    );
    this.chainId = chainId;
  }
}

/** The configured address has no contract code, or not the expected contract. */
export class ContractNotFoundError extends ChainError {
  readonly code = 'CONTRACT_NOT_FOUND';
  override readonly name = 'ContractNotFoundError';
  readonly address: string;

  constructor(contract: string, address: string, context: ChainErrorContext, cause?: unknown) {
    super(
      `no ${contract} contract at ${address} (check the configured ${contract} address)`,
      context,
      { cause },
    );
    this.address = address;
  }
}

/** The RPC endpoint serves a different chain than configured. */
export class ChainIdMismatchError extends ChainError {
  readonly code = 'CHAIN_ID_MISMATCH';
  override readonly name = 'ChainIdMismatchError';

  constructor(expected: number, actual: number, rpcUrl: string, call: string) {
    super(`RPC ${rpcUrl} serves chain id ${actual}, but chain id ${expected} was configured`, {
      chain: `chain ${expected}`,
      call,
    });
  }
}

/** An argument is out of range for the contract's type (caught before any RPC). */
export class InvalidChainArgumentError extends ChainError {
  readonly code = 'INVALID_CHAIN_ARGUMENT';
  override readonly name = 'InvalidChainArgumentError';
  readonly field: string;

  constructor(field: string, problem: string, context: ChainErrorContext) {
    super(`${field} ${problem}`, context);
    this.field = field;
  }
}

/**
 * A block the node had already treated as confirmed was replaced: the reorg was deeper than the
 * configured confirmation depth. Raise the depth, or rewind the cursor and re-derive state.
 */
export class ReorgBeyondDepthError extends ChainError {
  readonly code = 'REORG_BEYOND_DEPTH';
  override readonly name = 'ReorgBeyondDepthError';
  readonly blockNumber: bigint;

  constructor(
    blockNumber: bigint,
    expectedHash: string,
    actualHash: string,
    context: ChainErrorContext,
  ) {
    super(
      `confirmed block ${blockNumber} changed from ${expectedHash} to ${actualHash}: a reorg deeper than the confirmation depth`,
      context,
    );
    this.blockNumber = blockNumber;
  }
}
