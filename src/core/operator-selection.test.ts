import { describe, expect, test } from 'vitest';
import { type OperatorSelection, selectOperatorSet } from './operator-selection.ts';
import {
  addressWithPrefix,
  epochOperator,
  HIGHER_BY_NUMBER,
  LOWER_BY_NUMBER,
} from './test-fixtures.ts';
import { reachesThreshold, sumWeightsWei } from './weight.ts';

const A = addressWithPrefix(0x0a, 1);
const B = addressWithPrefix(0x0b, 2);
const C = addressWithPrefix(0x0c, 3);
const D = addressWithPrefix(0x0d, 4);
const operators = [
  epochOperator(D, 1n),
  epochOperator(C, 2n),
  epochOperator(B, 3n),
  epochOperator(A, 3n),
];

describe('selectOperatorSet', () => {
  test('behavior: by default every active operator, ascending by address', () => {
    expect(selectOperatorSet({ epochOperators: operators, thresholdWeightWei: 6n })).toEqual({
      kind: 'selected',
      operators: [
        epochOperator(A, 3n),
        epochOperator(B, 3n),
        epochOperator(C, 2n),
        epochOperator(D, 1n),
      ],
      weightWei: 9n,
    });
  });

  test('behavior: excluded operators are left out; unreachable is reported with the numbers', () => {
    expect(
      selectOperatorSet({ epochOperators: operators, thresholdWeightWei: 6n, excluded: [C] }),
    ).toMatchObject({
      kind: 'selected',
      weightWei: 7n,
    });
    expect(
      selectOperatorSet({ epochOperators: operators, thresholdWeightWei: 6n, excluded: [A, D] }),
    ).toEqual({
      kind: 'thresholdUnreachable',
      availableWeightWei: 5n,
      thresholdWeightWei: 6n,
      excluded: [A, D],
    });
  });

  test('behavior: reachable exactly at the threshold, not one wei below', () => {
    expect(selectOperatorSet({ epochOperators: operators, thresholdWeightWei: 9n }).kind).toBe(
      'selected',
    );
    expect(selectOperatorSet({ epochOperators: operators, thresholdWeightWei: 10n }).kind).toBe(
      'thresholdUnreachable',
    );
  });

  test('behavior: heaviestFirst keeps the signers, then adds the heaviest (ties by address)', () => {
    const selection = selectOperatorSet({
      epochOperators: operators,
      thresholdWeightWei: 6n,
      strategy: 'heaviestFirst',
    });
    expect(selection).toMatchObject({ kind: 'selected', weightWei: 6n });
    expect(selectedAddresses(selection)).toEqual([A, B]);

    const retry = selectOperatorSet({
      epochOperators: operators,
      thresholdWeightWei: 6n,
      excluded: [B],
      alreadySigned: [A],
      strategy: 'heaviestFirst',
    });
    expect(selectedAddresses(retry)).toEqual([A, C, D]);
  });

  test('behavior: the order is numeric even where the checksummed strings sort the other way', () => {
    const selection = selectOperatorSet({
      epochOperators: [epochOperator(HIGHER_BY_NUMBER, 1n), epochOperator(LOWER_BY_NUMBER, 1n)],
      thresholdWeightWei: 1n,
    });
    expect(selectedAddresses(selection)).toEqual([LOWER_BY_NUMBER, HIGHER_BY_NUMBER]);
  });

  test('behavior: no operators never reaches a threshold, not even 0', () => {
    expect(selectOperatorSet({ epochOperators: [], thresholdWeightWei: 0n }).kind).toBe(
      'thresholdUnreachable',
    );
  });
});

describe('weights', () => {
  test('behavior: sums are exact bigints', () => {
    expect(sumWeightsWei([2n ** 255n, 2n ** 255n - 1n, 1n])).toBe(2n ** 256n);
    expect(
      reachesThreshold({
        signedWeightWei: 10n ** 30n,
        thresholdWeightWei: 10n ** 30n,
        signerCount: 1,
      }),
    ).toBe(true);
    expect(
      reachesThreshold({
        signedWeightWei: 10n ** 30n - 1n,
        thresholdWeightWei: 10n ** 30n,
        signerCount: 1,
      }),
    ).toBe(false);
  });
});

function selectedAddresses(selection: OperatorSelection) {
  if (selection.kind !== 'selected') throw new Error(`expected a selection, got ${selection.kind}`);
  return selection.operators.map((entry) => entry.operator);
}
