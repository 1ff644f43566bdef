import fc from 'fast-check';
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { epochManagerAbi, epochManagerBytecode } from '../../contracts-abi/EpochManager.ts';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import {
  blocksUntilNextEpoch,
  type EpochParams,
  effectiveEpochForBlock,
  epochForBlock,
  isInGracePeriod,
  startBlockForEpoch,
} from '../../src/core/epoch-math.ts';

let testbed: Testbed;

beforeAll(async () => {
  testbed = await startTestbed({ epochLengthBlocks: 12n, gracePeriodBlocks: 3n });
});

afterAll(async () => {
  await testbed?.stop();
});

async function deployEpochManager(epochLengthBlocks: bigint, gracePeriodBlocks: bigint) {
  const wallet = testbed.mainAnvil.walletClient(testbed.deployer);
  const hash = await wallet.deployContract({
    abi: epochManagerAbi,
    bytecode: epochManagerBytecode,
    args: [epochLengthBlocks, gracePeriodBlocks],
    account: testbed.deployer,
    chain: wallet.chain,
  });
  const receipt = await testbed.mainAnvil.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 20,
  });
  if (!receipt.contractAddress) throw new Error('no contract address');
  const params: EpochParams = {
    genesisBlock: receipt.blockNumber,
    epochLengthBlocks,
    gracePeriodBlocks,
  };
  return { address: receipt.contractAddress, params };
}

type Outcome = { value: unknown } | { failed: true };

/** Runs both sides; they must agree on the value, or both refuse (overflow, before genesis). */
async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    return { value: await run() };
  } catch {
    return { failed: true };
  }
}

async function expectSameOutcome(ours: () => unknown, theirs: () => Promise<unknown>) {
  const [a, b] = await Promise.all([outcome(ours), outcome(theirs)]);
  expect(a).toEqual(b);
}

function reader(address: Address) {
  const client = testbed.mainAnvil.publicClient;
  return {
    epochFor: (block: bigint) =>
      client.readContract({
        address,
        abi: epochManagerAbi,
        functionName: 'getEpochForBlock',
        args: [block],
      }),
    effectiveFor: (block: bigint) =>
      client.readContract({
        address,
        abi: epochManagerAbi,
        functionName: 'getEffectiveEpochForBlock',
        args: [block],
      }),
    startOf: (epoch: number) =>
      client.readContract({
        address,
        abi: epochManagerAbi,
        functionName: 'getStartBlockForEpoch',
        args: [epoch],
      }),
    at: <
      F extends
        | 'getCurrentEpoch'
        | 'isInGracePeriod'
        | 'blocksUntilNextEpoch'
        | 'getEffectiveEpoch',
    >(
      functionName: F,
      blockNumber: bigint,
    ) => client.readContract({ address, abi: epochManagerAbi, functionName, blockNumber }),
  };
}

describe('epoch math: TypeScript equals EpochManager', () => {
  test('property: for random parameters and blocks, every function agrees with the contract', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 64n }).chain((length) =>
          fc.record({
            length: fc.constant(length),
            grace: fc.bigInt({ min: 0n, max: length - 1n }),
            offsets: fc.array(
              fc.oneof(
                fc.bigInt({ min: 0n, max: 2n ** 40n }),
                // Near the uint32 epoch limit for short epochs.
                fc.bigInt({ min: 2n ** 32n - 3n, max: 2n ** 32n + 3n }).map((e) => e * length),
              ),
              { minLength: 1, maxLength: 6 },
            ),
            epochs: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), {
              minLength: 1,
              maxLength: 3,
            }),
          }),
        ),
        async ({ length, grace, offsets, epochs }) => {
          const { address, params } = await deployEpochManager(length, grace);
          const contract = reader(address);
          // Also probe each epoch boundary and grace boundary near the first offset.
          const base = offsets[0] ?? 0n;
          const probes = [
            ...offsets,
            base - (base % length),
            base - (base % length) + length - grace,
            length - 1n,
          ];
          for (const offset of probes) {
            const block = params.genesisBlock + (offset < 0n ? 0n : offset);
            await expectSameOutcome(
              () => epochForBlock(params, block),
              () => contract.epochFor(block),
            );
            await expectSameOutcome(
              () => effectiveEpochForBlock(params, block),
              () => contract.effectiveFor(block),
            );
          }
          for (const epoch of epochs) {
            await expectSameOutcome(
              () => startBlockForEpoch(params, epoch),
              () => contract.startOf(epoch),
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test('property: block-relative views agree at every historical block', async () => {
    const { address, params } = await deployEpochManager(7n, 2n);
    await testbed.mainAnvil.mine(40);
    const head = await testbed.mainAnvil.publicClient.getBlockNumber();
    const contract = reader(address);
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: params.genesisBlock, max: head }), async (block) => {
        expect(epochForBlock(params, block)).toBe(await contract.at('getCurrentEpoch', block));
        expect(isInGracePeriod(params, block)).toBe(await contract.at('isInGracePeriod', block));
        expect(blocksUntilNextEpoch(params, block)).toBe(
          await contract.at('blocksUntilNextEpoch', block),
        );
        expect(effectiveEpochForBlock(params, block)).toBe(
          await contract.at('getEffectiveEpoch', block),
        );
      }),
      { numRuns: 40 },
    );
  });

  test('behavior: grace-period boundaries (+1 before, +2 inside) on the deployed testbed', async () => {
    const params = await testbed.main.getEpochParams();
    const g = params.genesisBlock;
    const cases: [bigint, number][] = [
      [g, 1],
      [g + 8n, 1],
      [g + 9n, 2],
      [g + 11n, 2],
      [g + 12n, 2],
      [g + 20n, 2],
      [g + 21n, 3],
    ];
    for (const [block, effective] of cases) {
      expect(effectiveEpochForBlock(params, block)).toBe(effective);
      expect(await testbed.main.getEffectiveEpochForBlock(block)).toBe(effective);
    }
  });
});
