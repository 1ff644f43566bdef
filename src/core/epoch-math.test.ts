import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  blocksUntilNextEpoch,
  type EpochParams,
  effectiveEpochForBlock,
  epochForBlock,
  isInGracePeriod,
  nextEpochStartBlock,
  startBlockForEpoch,
} from './epoch-math.ts';
import {
  BlockBeforeGenesisError,
  FieldOutOfRangeError,
  InvalidEpochParamsError,
} from './errors.ts';

/** The scenario defaults: 12-block epochs, the last 3 blocks are the grace period. */
const small: EpochParams = { genesisBlock: 100n, epochLengthBlocks: 12n, gracePeriodBlocks: 3n };
const production: EpochParams = {
  genesisBlock: 19_000_000n,
  epochLengthBlocks: 45_000n,
  gracePeriodBlocks: 6_400n,
};

describe('boundary blocks (genesis 100, length 12, grace 3)', () => {
  test.each([
    // block, epoch, inGrace, effective, untilNext
    [100n, 0, false, 1, 12n], // genesis: first block of epoch 0
    [101n, 0, false, 1, 11n],
    [108n, 0, false, 1, 4n], // last block before the grace period
    [109n, 0, true, 2, 3n], // first grace block: offset 9 = 12 - 3
    [111n, 0, true, 2, 1n], // last block of epoch 0
    [112n, 1, false, 2, 12n], // first block of epoch 1
    [120n, 1, false, 2, 4n],
    [121n, 1, true, 3, 3n],
    [123n, 1, true, 3, 1n],
    [124n, 2, false, 3, 12n],
  ] as const)(
    'block %s: epoch %s, grace %s, effective %s, %s blocks to go',
    (block, epoch, grace, effective, untilNext) => {
      expect(epochForBlock(small, block)).toBe(epoch);
      expect(isInGracePeriod(small, block)).toBe(grace);
      expect(effectiveEpochForBlock(small, block)).toBe(effective);
      expect(blocksUntilNextEpoch(small, block)).toBe(untilNext);
      expect(nextEpochStartBlock(small, block)).toBe(block + untilNext);
    },
  );

  test('behavior: start blocks', () => {
    expect(startBlockForEpoch(small, 0)).toBe(100n);
    expect(startBlockForEpoch(small, 1)).toBe(112n);
    expect(startBlockForEpoch(small, 2)).toBe(124n);
  });
});

describe('production constants (45,000-block epochs, 6,400-block grace period)', () => {
  test('behavior: the grace period starts 6,400 blocks before the next epoch', () => {
    const start = startBlockForEpoch(production, 7);
    expect(start).toBe(19_000_000n + 7n * 45_000n);
    expect(isInGracePeriod(production, start + 38_599n)).toBe(false);
    expect(effectiveEpochForBlock(production, start + 38_599n)).toBe(8);
    expect(isInGracePeriod(production, start + 38_600n)).toBe(true);
    expect(effectiveEpochForBlock(production, start + 38_600n)).toBe(9);
    expect(effectiveEpochForBlock(production, start + 44_999n)).toBe(9);
    expect(effectiveEpochForBlock(production, start + 45_000n)).toBe(9);
  });
});

describe('grace period 0', () => {
  test('behavior: no block is in the grace period, changes always take effect next epoch', () => {
    const params = { ...small, gracePeriodBlocks: 0n };
    for (let block = 100n; block < 136n; block++) {
      expect(isInGracePeriod(params, block)).toBe(false);
      expect(effectiveEpochForBlock(params, block)).toBe(epochForBlock(params, block) + 1);
    }
  });
});

describe('errors', () => {
  test('behavior: a block before genesis throws like EpochManager__BlockBeforeGenesis', () => {
    expect(() => epochForBlock(small, 99n)).toThrow(BlockBeforeGenesisError);
    expect(() => isInGracePeriod(small, 0n)).toThrow(BlockBeforeGenesisError);
  });

  test.each([
    ['epoch length 0', { ...small, epochLengthBlocks: 0n }],
    ['grace period equal to the epoch length', { ...small, gracePeriodBlocks: 12n }],
    ['negative genesis', { ...small, genesisBlock: -1n }],
    ['genesis beyond uint64', { ...small, genesisBlock: 1n << 64n }],
  ])('behavior: rejects %s', (_label, params) => {
    expect(() => epochForBlock(params, 200n)).toThrow(InvalidEpochParamsError);
  });

  test('behavior: never truncates: an epoch beyond uint32 or a start block beyond uint64 throws', () => {
    const tiny = { genesisBlock: 0n, epochLengthBlocks: 1n, gracePeriodBlocks: 0n };
    expect(epochForBlock(tiny, 2n ** 32n - 1n)).toBe(2 ** 32 - 1);
    expect(() => epochForBlock(tiny, 2n ** 32n)).toThrow(FieldOutOfRangeError);
    expect(() => effectiveEpochForBlock(tiny, 2n ** 32n - 1n)).toThrow(FieldOutOfRangeError);
    expect(() => epochForBlock(tiny, 2n ** 64n)).toThrow(FieldOutOfRangeError);
    const huge = { genesisBlock: 0n, epochLengthBlocks: 2n ** 40n, gracePeriodBlocks: 0n };
    expect(() => startBlockForEpoch(huge, 2 ** 24)).toThrow(FieldOutOfRangeError);
    expect(() => startBlockForEpoch(small, -1)).toThrow(FieldOutOfRangeError);
    expect(() => startBlockForEpoch(small, 1.5)).toThrow(FieldOutOfRangeError);
  });
});

describe('properties', () => {
  const paramsAndBlock = fc
    .record({
      genesisBlock: fc.bigInt(0n, 10n ** 9n),
      epochLengthBlocks: fc.bigInt(1n, 100_000n),
      graceFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      blocksAfterGenesis: fc.bigInt(0n, 10n ** 9n),
    })
    .map(({ genesisBlock, epochLengthBlocks, graceFraction, blocksAfterGenesis }) => {
      const gracePeriodBlocks = BigInt(Math.floor(Number(epochLengthBlocks) * graceFraction));
      return {
        params: { genesisBlock, epochLengthBlocks, gracePeriodBlocks },
        block: genesisBlock + blocksAfterGenesis,
      };
    });

  test('property: a block lies in its epoch, which starts at startBlockForEpoch', () => {
    fc.assert(
      fc.property(paramsAndBlock, ({ params, block }) => {
        const epoch = epochForBlock(params, block);
        const start = startBlockForEpoch(params, epoch);
        expect(start <= block && block < start + params.epochLengthBlocks).toBe(true);
        expect(epochForBlock(params, start)).toBe(epoch);
        const untilNext = blocksUntilNextEpoch(params, block);
        expect(untilNext >= 1n && untilNext <= params.epochLengthBlocks).toBe(true);
        expect(epochForBlock(params, block + untilNext)).toBe(epoch + 1);
      }),
    );
  });

  test('property: effective epoch is +2 exactly in the last GRACE_PERIOD blocks, else +1', () => {
    fc.assert(
      fc.property(paramsAndBlock, ({ params, block }) => {
        const epoch = epochForBlock(params, block);
        const inGrace = blocksUntilNextEpoch(params, block) <= params.gracePeriodBlocks;
        expect(isInGracePeriod(params, block)).toBe(inGrace);
        expect(effectiveEpochForBlock(params, block)).toBe(epoch + (inGrace ? 2 : 1));
      }),
    );
  });
});
