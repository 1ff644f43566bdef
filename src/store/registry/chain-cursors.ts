import type { Hex } from 'viem';
import type { DB } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { storedHex } from '../stored-values.ts';
import { type InputChecks, inputChecks } from '../validate.ts';

/**
 * The last block an event watcher processed, with its hash: a restart resumes after it, and a
 * reorg that replaced it is detected by comparing hashes. Same shape as the chain module's
 * ChainCursor.
 */
export interface StoredChainCursor {
  blockNumber: bigint;
  blockHash: Hex;
}

export interface ChainCursorsRepository {
  get(chainId: number, stream: string): Promise<StoredChainCursor | undefined>;
  /**
   * Stores the cursor (moving it back is allowed: that is how a handled reorg rewinds). Write it
   * in the same transaction as the effects of the events it covers, so they happen exactly once.
   */
  set(chainId: number, stream: string, cursor: StoredChainCursor): Promise<void>;
}

const STREAM_PATTERN = /^[a-z][A-Za-z0-9_.:-]{0,63}$/;

export function checkKey(checks: InputChecks, chainId: unknown, stream: unknown) {
  return {
    chainId: checks.uint32('chainId', chainId),
    stream: checks.matching(
      'stream',
      stream,
      STREAM_PATTERN,
      'a stream name such as "operatorEvents" (letters, digits, _ . : -; at most 64)',
    ),
  };
}

/** `set`'s arguments checked: the cursor's key and its position columns (shared with the memory adapter). */
export function checkCursorSet(
  operation: string,
  chainId: number,
  stream: string,
  cursor: StoredChainCursor,
) {
  const checks = inputChecks(operation);
  const key = checkKey(checks, chainId, stream);
  checks.require(typeof cursor === 'object' && cursor !== null, 'cursor', 'expected an object');
  const position = {
    block_number: checks.uint64('cursor.blockNumber', cursor.blockNumber),
    block_hash: checks.bytes32('cursor.blockHash', cursor.blockHash),
  };
  return { key, position };
}

/** A stored cursor row as `get` returns it (undefined when there is none). */
export function toStoredCursor(
  row: { block_number: bigint; block_hash: string } | undefined,
): StoredChainCursor | undefined {
  return row ? { blockNumber: row.block_number, blockHash: storedHex(row.block_hash) } : undefined;
}

export function createChainCursorsRepository(context: QueryContext<DB>): ChainCursorsRepository {
  return {
    async get(chainId, stream) {
      const operation = 'cursors.get';
      const key = checkKey(inputChecks(operation), chainId, stream);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('chain_cursors')
          .select(['block_number', 'block_hash'])
          .where('chain_id', '=', key.chainId)
          .where('stream', '=', key.stream)
          .executeTakeFirst();
        return toStoredCursor(row);
      });
    },

    async set(chainId, stream, cursor) {
      const operation = 'cursors.set';
      const { key, position } = checkCursorSet(operation, chainId, stream, cursor);
      return runQuery(operation, async () => {
        const updatedAt = nowAsDate(context.clock);
        await context.db
          .insertInto('chain_cursors')
          .values({ chain_id: key.chainId, stream: key.stream, ...position, updated_at: updatedAt })
          .onConflict((conflict) =>
            conflict
              .columns(['chain_id', 'stream'])
              .doUpdateSet({ ...position, updated_at: updatedAt }),
          )
          .execute();
      });
    },
  };
}
