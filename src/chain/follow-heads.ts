import type { BlockHeader, ChainReader } from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';

export interface FollowHeadsOptions {
  clock: Clock;
  pollIntervalMs: number;
  /** Called once per new head, in order; awaited before the next poll. */
  onHead: (head: BlockHeader) => void | Promise<void>;
  /** Called when a poll fails; following continues after `pollIntervalMs`. */
  onError: (error: unknown) => void;
  signal: AbortSignal;
}

/**
 * Polls the latest block and reports each new head (a new number, or the same number with a new
 * hash after a reorg). Polling through the injected Clock keeps it deterministic in the
 * simulator. Resolves when `signal` aborts.
 */
export async function followHeads(chain: ChainReader, options: FollowHeadsOptions): Promise<void> {
  const { clock, pollIntervalMs, onHead, onError, signal } = options;
  let last: BlockHeader | undefined;
  while (!signal.aborted) {
    try {
      const head = await chain.getBlock('latest');
      if (!last || head.number !== last.number || head.hash !== last.hash) {
        last = head;
        await onHead(head);
      }
    } catch (error) {
      if (signal.aborted) break;
      onError(error);
    }
    try {
      await clock.sleep(pollIntervalMs, { signal });
    } catch {
      break; // aborted while sleeping
    }
  }
}
