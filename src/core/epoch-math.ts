import {
  BlockBeforeGenesisError,
  FieldOutOfRangeError,
  InvalidEpochParamsError,
} from './errors.ts';
import { maxUint, toEpochNumber, toUint } from './uint.ts';

/**
 * Epoch arithmetic mirrored from `contracts/EpochManager.sol`, over bigint block numbers so that
 * nodes compute epochs without a chain call and get the contract's answer for every block.
 * Where the contract would silently truncate an epoch to uint32 we throw instead.
 */

/** The EpochManager's immutables: GENESIS_BLOCK, EPOCH_LENGTH, GRACE_PERIOD. */
export interface EpochParams {
  genesisBlock: bigint;
  epochLengthBlocks: bigint;
  gracePeriodBlocks: bigint;
}

/** `getEpochForBlock`: epoch 0 starts at the genesis block. */
export function epochForBlock(params: EpochParams, blockNumber: bigint): number {
  const offset = blocksSinceGenesis(params, blockNumber);
  return toEpochNumber('epoch', offset / params.epochLengthBlocks);
}

/** True in the last `gracePeriodBlocks` blocks of an epoch. */
export function isInGracePeriod(params: EpochParams, blockNumber: bigint): boolean {
  const offset = blocksSinceGenesis(params, blockNumber) % params.epochLengthBlocks;
  return offset >= params.epochLengthBlocks - params.gracePeriodBlocks;
}

/**
 * `getEffectiveEpochForBlock`: the epoch at which a registry change mined in `blockNumber` takes
 * effect, one epoch later, or two inside the grace period, so that every node has a whole epoch
 * to learn about it before it counts.
 */
export function effectiveEpochForBlock(params: EpochParams, blockNumber: bigint): number {
  const delay = isInGracePeriod(params, blockNumber) ? 2 : 1;
  return toEpochNumber('effectiveEpoch', epochForBlock(params, blockNumber) + delay);
}

/** `getStartBlockForEpoch`. */
export function startBlockForEpoch(params: EpochParams, epoch: number): bigint {
  assertValidParams(params);
  const start = params.genesisBlock + toUint('epoch', epoch, 'uint32') * params.epochLengthBlocks;
  if (start > maxUint('uint64')) throw new FieldOutOfRangeError('startBlock', start, 'uint64');
  return start;
}

/** `blocksUntilNextEpoch` as seen at `blockNumber` (never 0: at a start block it is a full epoch). */
export function blocksUntilNextEpoch(params: EpochParams, blockNumber: bigint): bigint {
  return nextEpochStartBlock(params, blockNumber) - blockNumber;
}

/** `getNextEpochStartBlock` as seen at `blockNumber`: where the next epoch advance triggers. */
export function nextEpochStartBlock(params: EpochParams, blockNumber: bigint): bigint {
  const nextEpoch = toEpochNumber('nextEpoch', epochForBlock(params, blockNumber) + 1);
  return startBlockForEpoch(params, nextEpoch);
}

function blocksSinceGenesis(params: EpochParams, blockNumber: bigint): bigint {
  assertValidParams(params);
  toUint('blockNumber', blockNumber, 'uint64');
  if (blockNumber < params.genesisBlock) {
    throw new BlockBeforeGenesisError(blockNumber, params.genesisBlock);
  }
  return blockNumber - params.genesisBlock;
}

/** The EpochManager constructor's checks, plus uint64 widths. */
function assertValidParams(params: EpochParams): void {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'bigint' || value < 0n || value > maxUint('uint64')) {
      throw new InvalidEpochParamsError(`${name} = ${String(value)} is not a uint64`);
    }
  }
  if (params.epochLengthBlocks === 0n) {
    throw new InvalidEpochParamsError('epochLengthBlocks must be at least 1');
  }
  if (params.gracePeriodBlocks >= params.epochLengthBlocks) {
    throw new InvalidEpochParamsError(
      `gracePeriodBlocks (${params.gracePeriodBlocks}) must be less than epochLengthBlocks (${params.epochLengthBlocks})`,
    );
  }
}
