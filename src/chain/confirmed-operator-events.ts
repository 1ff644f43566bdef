import type { Hex } from 'viem';
import type { MainChain, OperatorEvent } from '../ports/chain.ts';
import { ReorgBeyondDepthError } from './errors.ts';

/** The last block whose events were processed, with its hash to detect reorgs under it. */
export interface ChainCursor {
  blockNumber: bigint;
  blockHash: Hex;
}

export interface ReadConfirmedEventsOptions {
  /** Where processing resumes; undefined on first start. */
  cursor: ChainCursor | undefined;
  /** First block to read when there is no cursor (e.g. the registry's deploy block). */
  startBlock: bigint;
  /** Blocks below the head that must exist before a block counts as final. */
  confirmations: bigint;
  /** Upper bound on one getLogs range. */
  maxRangeBlocks?: bigint;
}

export interface ConfirmedEvents {
  events: OperatorEvent[];
  /** The cursor to persist after processing `events`; unchanged when nothing new is confirmed. */
  cursor: ChainCursor | undefined;
  /** True when the read reached the confirmed tip. */
  caughtUp: boolean;
}

/**
 * Reads OperatorRegistered/OperatorDeregistered events of blocks that are at least
 * `confirmations` deep, resuming after `cursor`. Blocks shallower than the depth are never read,
 * so a reorg above the depth needs no handling; a reorg that replaced the cursor's block is
 * reported as ReorgBeyondDepthError rather than silently skipping or duplicating events.
 */
export async function readConfirmedOperatorEvents(
  chain: MainChain,
  options: ReadConfirmedEventsOptions,
): Promise<ConfirmedEvents> {
  const { cursor, confirmations } = options;
  const maxRangeBlocks = options.maxRangeBlocks ?? 2_000n;
  const head = await chain.getBlockNumber();
  const confirmedTip = head - confirmations;

  if (cursor) {
    const current = await chain.getBlock(cursor.blockNumber);
    if (current.hash !== cursor.blockHash) {
      throw new ReorgBeyondDepthError(cursor.blockNumber, cursor.blockHash, current.hash, {
        chain: chain.label,
        call: 'readConfirmedOperatorEvents',
      });
    }
  }
  const fromBlock = cursor ? cursor.blockNumber + 1n : options.startBlock;
  if (confirmedTip < fromBlock) return { events: [], cursor, caughtUp: true };

  const toBlock =
    fromBlock + maxRangeBlocks - 1n < confirmedTip ? fromBlock + maxRangeBlocks - 1n : confirmedTip;
  const [events, toHeader] = await Promise.all([
    chain.getOperatorEvents({ fromBlock, toBlock }),
    chain.getBlock(toBlock),
  ]);
  return {
    events,
    cursor: { blockNumber: toBlock, blockHash: toHeader.hash },
    caughtUp: toBlock === confirmedTip,
  };
}
