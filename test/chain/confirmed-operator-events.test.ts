import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import {
  type ChainCursor,
  readConfirmedOperatorEvents,
} from '../../src/chain/confirmed-operator-events.ts';
import { ReorgBeyondDepthError } from '../../src/chain/errors.ts';
import { followHeads } from '../../src/chain/follow-heads.ts';
import type { BlockHeader, OperatorEvent } from '../../src/ports/chain.ts';

const CONFIRMATIONS = 2n;
let testbed: Testbed;

beforeAll(async () => {
  testbed = await startTestbed({
    manualMining: true,
    epochLengthBlocks: 100n,
    gracePeriodBlocks: 10n,
  });
});

afterAll(async () => {
  await testbed?.stop();
});

const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;

async function register(): Promise<{ operator: `0x${string}`; block: bigint }> {
  const operator = newAddress();
  await testbed.registry.registerOperator({ operator, signingKey: newAddress(), weight: 10n });
  await testbed.mainAnvil.mine(1);
  return { operator, block: await testbed.main.getBlockNumber() };
}

/** Reads until caught up, as a watcher would, returning all events and the final cursor. */
async function drain(from: ChainCursor | undefined, maxRangeBlocks?: bigint) {
  let cursor = from;
  const events: OperatorEvent[] = [];
  let reads = 0;
  for (;;) {
    const result = await readConfirmedOperatorEvents(testbed.main, {
      cursor,
      startBlock: testbed.deployment.genesisBlock,
      confirmations: CONFIRMATIONS,
      ...(maxRangeBlocks === undefined ? {} : { maxRangeBlocks }),
    });
    reads++;
    events.push(...result.events);
    cursor = result.cursor;
    if (result.caughtUp) return { events, cursor, reads };
  }
}

describe('readConfirmedOperatorEvents', () => {
  let cursor: ChainCursor | undefined;

  test('behavior: events appear only once they are `confirmations` deep', async () => {
    const first = await register();
    const early = await drain(undefined);
    expect(early.events).toEqual([]);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    const late = await drain(early.cursor);
    expect(late.events.map((e) => [e.kind, e.operator, e.blockNumber])).toEqual([
      ['registered', first.operator, first.block],
    ]);
    cursor = late.cursor;
    expect(cursor?.blockNumber).toBe(first.block);
  });

  test('behavior: resuming from the cursor neither repeats nor skips events', async () => {
    const second = await register();
    await testbed.registry.deregisterOperator({ operator: second.operator });
    await testbed.mainAnvil.mine(1);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    const next = await drain(cursor);
    expect(next.events.map((e) => [e.kind, e.operator])).toEqual([
      ['registered', second.operator],
      ['deregistered', second.operator],
    ]);
    cursor = next.cursor;
  });

  test('behavior: paging through small ranges yields the same events', async () => {
    const all = await drain(undefined);
    const paged = await drain(undefined, 3n);
    expect(paged.reads).toBeGreaterThan(2);
    expect(paged.events).toEqual(all.events);
    expect(paged.cursor).toEqual(all.cursor);
  });

  test('behavior: a reorg shallower than the depth is never seen', async () => {
    const before = await drain(cursor);
    cursor = before.cursor;
    const lost = await register(); // sits in the head block: not yet confirmed
    const lostHash = (await testbed.main.getBlock(lost.block)).hash;
    await testbed.mainAnvil.reorg(1); // the head block is replaced
    expect((await testbed.main.getBlock(lost.block)).hash).not.toBe(lostHash);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS) + 1);
    const after = await drain(cursor);
    const canonical = await testbed.main.getOperatorEvents({
      fromBlock: (cursor?.blockNumber ?? 0n) + 1n,
      toBlock: after.cursor?.blockNumber ?? 0n,
    });
    expect(after.events).toEqual(canonical);
    // Whatever became of the replaced block's transaction, no event comes from the orphaned block.
    expect(after.events.every((e) => e.blockHash !== lostHash)).toBe(true);
    cursor = after.cursor;
  });

  test('behavior: a reorg deeper than the depth is reported, naming the block', async () => {
    const depth = Number(CONFIRMATIONS) + 2;
    const head = await testbed.main.getBlockNumber();
    expect(cursor?.blockNumber).toBe(head - CONFIRMATIONS);
    await testbed.mainAnvil.reorg(depth);
    const error = await drain(cursor).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReorgBeyondDepthError);
    expect((error as ReorgBeyondDepthError).blockNumber).toBe(cursor?.blockNumber);
    expect((error as Error).message).toContain('a reorg deeper than the confirmation depth');
  });
});

describe('followHeads', () => {
  test('behavior: reports each new head, including a replaced head, and stops on abort', async () => {
    const heads: BlockHeader[] = [];
    const controller = new AbortController();
    const errors: unknown[] = [];
    const following = followHeads(testbed.main, {
      clock: createSystemClock(),
      pollIntervalMs: 10,
      signal: controller.signal,
      onHead: (head) => {
        heads.push(head);
      },
      onError: (error) => errors.push(error),
    });
    const waitFor = async (predicate: () => boolean) => {
      for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(predicate()).toBe(true);
    };
    await waitFor(() => heads.length === 1);
    const start = heads[0]?.number ?? 0n;
    await testbed.mainAnvil.mine(1);
    await waitFor(() => heads.at(-1)?.number === start + 1n);
    const replaced = heads.at(-1);
    await testbed.mainAnvil.reorg(1);
    await waitFor(() => heads.at(-1)?.hash !== replaced?.hash);
    expect(heads.at(-1)?.number).toBe(start + 1n);
    controller.abort();
    await following;
    expect(errors).toEqual([]);
  });
});
