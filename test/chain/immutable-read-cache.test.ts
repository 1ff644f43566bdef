import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createImmutableReadCache } from '../../src/adapters/chain-cache/immutable-read-cache.ts';
import { ContractRevertError } from '../../src/chain/errors.ts';
import type { ChainReader } from '../../src/ports/chain.ts';
import { mineUntil, sendInBlock } from '../support/chain-helpers.ts';

// Epochs of 12 blocks, the last 3 the grace period.
const EPOCH = 12n;
const GRACE = 3n;
const STATE_CHAIN_ID = 10;

let testbed: Testbed;
let genesis: bigint;
const operator = privateKeyToAccount(generatePrivateKey()).address;
const signingKey = privateKeyToAccount(generatePrivateKey()).address;
const blockAt = (epoch: bigint, offset: bigint) => genesis + epoch * EPOCH + offset;

/** The real chain, counting the calls that reach it by method. */
function counted<T extends ChainReader>(chain: T): { chain: T; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(chain, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { chain: wrapped, calls };
}

beforeAll(async () => {
  testbed = await startTestbed({
    stateChainIds: [STATE_CHAIN_ID],
    epochLengthBlocks: EPOCH,
    gracePeriodBlocks: GRACE,
    manualMining: true,
  });
  genesis = testbed.deployment.genesisBlock;
});

afterAll(async () => {
  await testbed?.stop();
});

describe('createImmutableReadCache over a real chain', () => {
  test('behavior: caches the registry at started epochs only, and always answers as the chain does', async () => {
    const cache = createImmutableReadCache();
    const { chain: reaching, calls } = counted(testbed.main);
    const main = cache.main(reaching);
    const direct = testbed.main;
    const registryReads = async (epoch: number) => ({
      weight: await main.getOperatorWeightAtEpoch({ operator, epoch }),
      key: await main.getOperatorSigningKeyAtEpoch({ operator, epoch }),
      total: await main.getTotalWeightAtEpoch(epoch),
      threshold: await main.getThresholdWeightAtEpoch(epoch),
    });
    const directReads = async (epoch: number) => ({
      weight: await direct.getOperatorWeightAtEpoch({ operator, epoch }),
      key: await direct.getOperatorSigningKeyAtEpoch({ operator, epoch }),
      total: await direct.getTotalWeightAtEpoch(epoch),
      threshold: await direct.getThresholdWeightAtEpoch(epoch),
    });

    // No head seen yet: nothing registry-related is cached.
    await registryReads(0);
    await registryReads(0);
    expect(calls.get('getTotalWeightAtEpoch')).toBe(2);

    // Registered in epoch 0, effective at epoch 1.
    await sendInBlock(testbed.mainAnvil, blockAt(0n, 4n), () =>
      testbed.registry.registerOperator({ operator, signingKey, weight: 100n }),
    );
    await main.getBlockNumber(); // the head is in epoch 0 now
    calls.clear();
    expect(await registryReads(1)).toEqual(await directReads(1));
    // Epoch 1 has not started: its weight can still change, so every read reaches the chain.
    await sendInBlock(testbed.mainAnvil, blockAt(0n, 6n), () =>
      testbed.registry.updateOperatorWeight({ operator, weight: 300n }),
    );
    expect(await registryReads(1)).toEqual({
      weight: 300n,
      key: signingKey,
      total: 300n,
      threshold: 200n,
    });
    expect(calls.get('getOperatorWeightAtEpoch')).toBe(2);

    // Once epoch 1 has started (and the cache has seen it), it is read once.
    await mineUntil(testbed.mainAnvil, blockAt(1n, 0n));
    await main.getBlockNumber();
    calls.clear();
    for (let i = 0; i < 3; i++) expect(await registryReads(1)).toEqual(await directReads(1));
    expect(calls.get('getOperatorWeightAtEpoch')).toBe(1);
    expect(calls.get('getTotalWeightAtEpoch')).toBe(1);
    // A change made in epoch 1 lands at epoch 2, which is still read through.
    await sendInBlock(testbed.mainAnvil, blockAt(1n, 2n), () =>
      testbed.registry.updateOperatorWeight({ operator, weight: 500n }),
    );
    expect(await registryReads(1)).toEqual(await directReads(1));
    expect(await registryReads(2)).toEqual(await directReads(2));
    expect((await registryReads(2)).weight).toBe(500n);
  });

  test('behavior: epoch arithmetic and blocks at or below the head are read once', async () => {
    const cache = createImmutableReadCache();
    const { chain: reaching, calls } = counted(testbed.main);
    const main = cache.main(reaching);
    const head = await main.getBlockNumber();
    for (let i = 0; i < 3; i++) {
      expect(await main.getStartBlockForEpoch(4)).toBe(blockAt(4n, 0n));
      expect(await main.getEffectiveEpochForBlock(blockAt(2n, 10n))).toBe(4);
      expect(await main.getCurrentEpoch({ blockNumber: head })).toBe(
        await testbed.main.getCurrentEpoch({ blockNumber: head }),
      );
      expect(await main.getBlock(head)).toEqual(await testbed.main.getBlock(head));
      expect(await main.getEpochParams()).toEqual(await testbed.main.getEpochParams());
      await main.getCurrentEpoch(); // at the head: never cached
      await main.getBlock('latest'); // never cached
    }
    expect(Object.fromEntries(calls)).toEqual({
      getBlockNumber: 1,
      getStartBlockForEpoch: 1,
      getEffectiveEpochForBlock: 1,
      getCurrentEpoch: 4,
      getBlock: 4,
      getEpochParams: 1,
    });
    // Handing out copies: a reader changing its answer changes nobody else's.
    const header = await main.getBlock(head);
    header.hash = '0x00';
    expect((await main.getBlock(head)).hash).not.toBe('0x00');
  });

  test('behavior: with the head announced by the block producer, reads at the head stay off the chain and answer as it does', async () => {
    const cache = createImmutableReadCache();
    const { chain: reaching, calls } = counted(testbed.main);
    const main = cache.main(reaching);
    const anvil = testbed.mainAnvil;
    // Across an epoch boundary: the epoch "now" is the epoch of the announced block.
    const start = await testbed.main.getBlockNumber();
    const epochOf = async (block: bigint) => testbed.main.getCurrentEpoch({ blockNumber: block });
    let boundaryCrossed = false;
    for (let block = start + 1n; block <= start + EPOCH + 1n; block++) {
      await anvil.mine(1);
      cache.announceHead(testbed.main.chainId, block);
      expect(await main.getBlockNumber()).toBe(block);
      expect(await main.getBlockNumber()).toBe(await testbed.main.getBlockNumber());
      expect(await main.getCurrentEpoch()).toBe(await testbed.main.getCurrentEpoch());
      expect(await main.getCurrentEpoch()).toBe(await epochOf(block));
      expect(await main.getBlock('latest')).toEqual(await testbed.main.getBlock('latest'));
      if ((await epochOf(block)) !== (await epochOf(block - 1n))) boundaryCrossed = true;
    }
    expect(boundaryCrossed).toBe(true);
    const blocks = Number(EPOCH) + 1;
    // One read per block of each (to fill the cache), none for the head itself.
    expect(calls.get('getBlockNumber')).toBeUndefined();
    expect(calls.get('getCurrentEpoch')).toBe(blocks);
    expect(calls.get('getBlock')).toBe(blocks);
    // Forgotten on clear(): the head is read from the chain again.
    cache.clear();
    expect(await main.getBlockNumber()).toBe(await testbed.main.getBlockNumber());
    expect(calls.get('getBlockNumber')).toBe(1);
  });

  test('behavior: after a reorg, clear() makes every read reach the chain again', async () => {
    const cache = createImmutableReadCache();
    const { chain: reaching, calls } = counted(testbed.main);
    const main = cache.main(reaching);
    const head = await main.getBlockNumber();
    const before = await main.getBlock(head);
    await testbed.mainAnvil.reorg(1);
    // The cache cannot know about the reorg by itself: whoever reorganises clears it.
    expect((await main.getBlock(head)).hash).toBe(before.hash);
    cache.clear();
    const after = await main.getBlock(head);
    expect(after.hash).not.toBe(before.hash);
    expect(after).toEqual(await testbed.main.getBlock(head));
    expect(calls.get('getBlock')).toBe(2);
  });

  test('behavior: state history is cached only when asked, and a failed read never is', async () => {
    const stateChain = testbed.stateChains.get(STATE_CHAIN_ID);
    if (!stateChain) throw new Error('state chain missing');
    const user = privateKeyToAccount(generatePrivateKey());
    const writer = await stateChain.writerFor(user);
    await stateChain.anvil.mine(1);
    const empty = await stateChain.chain.getBlockNumber();
    await writer.setValue({ key: 1n, value: 42n });
    await stateChain.anvil.mine(1);
    const written = await stateChain.chain.getBlockNumber();
    const args = { user: user.address as Address, key: 1n, blockNumber: written };

    for (const cacheStateHistory of [false, true]) {
      const cache = createImmutableReadCache({ cacheStateHistory });
      const { chain: reaching, calls } = counted(stateChain.chain);
      const state = cache.state(reaching);
      await state.getBlockNumber();
      for (let i = 0; i < 3; i++) {
        expect(await state.getHistoryAtBlock(args)).toEqual(
          await stateChain.chain.getHistoryAtBlock(args),
        );
        const failure = await state
          .getHistoryAtBlock({ ...args, blockNumber: empty })
          .catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(ContractRevertError);
      }
      expect(calls.get('getHistoryAtBlock')).toBe(cacheStateHistory ? 1 + 3 : 6);
      expect(cache.stats().hits).toBe(cacheStateHistory ? 2 : 0);
    }
  });
});
