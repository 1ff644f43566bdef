import fc from 'fast-check';
import type { Address } from 'viem';
import { describe, expect, test } from 'vitest';
import { advanceEpoch, catchUpEpochs, type EpochChainReads } from './epoch-advance.ts';
import { DuplicateOperatorError, EpochOutOfOrderError, MissingChainReadError } from './errors.ts';
import type { OperatorRecord } from './operator-record.ts';
import { OPERATOR_STATUSES } from './operator-status.ts';
import {
  addressWithPrefix,
  arbitraryAddress,
  HIGHER_BY_NUMBER,
  LOWER_BY_NUMBER,
  operatorRecord,
} from './test-fixtures.ts';

const A = addressWithPrefix(0x0a, 1);
const B = addressWithPrefix(0xb0, 2);
const C = addressWithPrefix(0xc0, 3);
const KEY_A = addressWithPrefix(0x5a, 1);
const KEY_B = addressWithPrefix(0x5b, 2);
const KEY_C = addressWithPrefix(0x5c, 3);

function reads(
  epoch: number,
  operators: EpochChainReads['operators'],
  totals?: Partial<EpochChainReads>,
): EpochChainReads {
  return {
    epoch,
    startBlock: 100n + 12n * BigInt(epoch),
    minimumWeightWei: 1n,
    totalWeightWei: operators.reduce((sum, read) => sum + read.weightWei, 0n),
    thresholdWeightWei: 2n,
    operators,
    ...totals,
  };
}

describe('epoch start rules', () => {
  const operators: OperatorRecord[] = [
    operatorRecord({ address: C, status: 'waitingActive', activeEpoch: 3, signingKey: KEY_C }),
    operatorRecord({
      address: A,
      status: 'active',
      activeEpoch: 1,
      exitEpoch: 3,
      signingKey: KEY_A,
    }),
    operatorRecord({
      address: B,
      status: 'suspended',
      activeEpoch: 1,
      statusBeforeSuspension: 'active',
      signingKey: KEY_B,
    }),
  ];
  const atEpoch3 = reads(3, [
    { operator: A, weightWei: 0n, signingKey: KEY_A },
    { operator: B, weightWei: 7n, signingKey: KEY_B },
    { operator: C, weightWei: 9n, signingKey: addressWithPrefix(0x6c, 3) },
  ]);

  test('behavior: waitingActive → active at activeEpoch, exit at exitEpoch, suspended stays suspended', () => {
    const result = advanceEpoch(operators, atEpoch3);
    expect(result.operators.map((record) => [record.address, record.status])).toEqual([
      [A, 'unactive'],
      [B, 'suspended'],
      [C, 'active'],
    ]);
    expect(result.statusChanges).toEqual([
      { operator: A, from: 'active', to: 'unactive', trigger: 'epochStart' },
      { operator: C, from: 'waitingActive', to: 'active', trigger: 'epochStart' },
    ]);
  });

  test('behavior: nothing changes one epoch early', () => {
    const result = advanceEpoch(operators, { ...atEpoch3, epoch: 2 });
    expect(result.statusChanges).toEqual([]);
    expect(result.operators.map((record) => record.status)).toEqual([
      'active',
      'suspended',
      'waitingActive',
    ]);
  });

  test('behavior: weights and signing keys of every operator (suspended too) come from the reads', () => {
    const result = advanceEpoch(operators, atEpoch3);
    expect(result.operators.map((record) => [record.weightWei, record.signingKey])).toEqual([
      [0n, KEY_A],
      [7n, KEY_B],
      [9n, addressWithPrefix(0x6c, 3)],
    ]);
  });

  test('behavior: the snapshot holds only active operators, with the epoch weights and keys', () => {
    expect(advanceEpoch(operators, atEpoch3).epochOperators).toEqual([
      { operator: C, weightWei: 9n, signingKey: addressWithPrefix(0x6c, 3) },
    ]);
    expect(advanceEpoch(operators, atEpoch3).epochState).toEqual({
      epoch: 3,
      startBlock: 136n,
      minimumWeightWei: 1n,
      totalWeightWei: 16n,
      thresholdWeightWei: 2n,
    });
  });

  test('behavior: totals are exact bigints far beyond 2^53', () => {
    const huge = 2n ** 254n + 12_345n;
    const result = advanceEpoch(
      [
        operatorRecord({ address: A, status: 'active' }),
        operatorRecord({ address: B, status: 'active' }),
      ],
      reads(
        4,
        [
          { operator: A, weightWei: huge, signingKey: KEY_A },
          { operator: B, weightWei: huge - 1n, signingKey: KEY_B },
        ],
        {
          minimumWeightWei: 10n ** 18n + 1n,
          thresholdWeightWei: (2n * (2n * huge - 1n) + 2n) / 3n,
        },
      ),
    );
    expect(result.epochState.totalWeightWei).toBe(2n * huge - 1n);
    expect(result.epochState.minimumWeightWei).toBe(1_000_000_000_000_000_001n);
    expect(result.epochOperators.reduce((sum, entry) => sum + entry.weightWei, 0n)).toBe(
      2n * huge - 1n,
    );
  });

  test('behavior: operators are ordered by address as a number, not as a checksummed string', () => {
    const lower = LOWER_BY_NUMBER;
    const upper = HIGHER_BY_NUMBER;
    expect([lower, upper].sort()).toEqual([upper, lower]);
    const result = advanceEpoch(
      [operatorRecord({ address: upper }), operatorRecord({ address: lower })],
      reads(1, [
        { operator: lower, weightWei: 1n, signingKey: KEY_A },
        { operator: upper, weightWei: 1n, signingKey: KEY_B },
      ]),
    );
    expect(result.operators.map((record) => record.address)).toEqual([lower, upper]);
  });

  test('behavior: a missing read throws, except for unactive operators, which keep their values', () => {
    const unactive = operatorRecord({
      address: A,
      status: 'unactive',
      exitEpoch: 2,
      weightWei: 0n,
    });
    const active = operatorRecord({ address: B, status: 'active' });
    expect(advanceEpoch([unactive], reads(5, [])).operators).toEqual([unactive]);
    expect(() => advanceEpoch([unactive, active], reads(5, []))).toThrow(MissingChainReadError);
  });

  test('behavior: duplicate operators (in any letter case) are rejected', () => {
    const record = operatorRecord({ address: B });
    const sameInLowercase = operatorRecord({ address: B.toLowerCase() as Address });
    expect(() => advanceEpoch([record, sameInLowercase], reads(1, []))).toThrow(
      DuplicateOperatorError,
    );
    const read = { operator: B, weightWei: 1n, signingKey: KEY_B };
    expect(() => advanceEpoch([record], reads(1, [read, read]))).toThrow(DuplicateOperatorError);
  });

  test('behavior: catching up refuses epochs out of order', () => {
    const read = [{ operator: A, weightWei: 1n, signingKey: KEY_A }];
    expect(() =>
      catchUpEpochs([operatorRecord({ address: A })], [reads(3, read), reads(3, read)]),
    ).toThrow(EpochOutOfOrderError);
  });
});

describe('properties', () => {
  const arbitraryRecord = fc
    .record({
      address: arbitraryAddress,
      signingKey: arbitraryAddress,
      status: fc.constantFrom(...OPERATOR_STATUSES),
      activeEpoch: fc.integer({ min: 0, max: 12 }),
      exitEpoch: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null }),
      weightWei: fc.bigInt(0n, 2n ** 256n - 1n),
      missing: fc.integer({ min: 0, max: 4 }),
      successfulResponseCount: fc.nat(),
    })
    .map(
      (fields): OperatorRecord => ({
        ...fields,
        statusBeforeSuspension: fields.status === 'suspended' ? 'active' : null,
      }),
    );

  const arbitraryOperators = fc.uniqueArray(arbitraryRecord, {
    maxLength: 8,
    selector: (record) => record.address.toLowerCase(),
  });

  function arbitraryReads(
    operators: readonly OperatorRecord[],
    epoch: number,
  ): fc.Arbitrary<EpochChainReads> {
    return fc
      .record({
        reads: fc.tuple(
          ...operators.map((record) =>
            fc.record({
              operator: fc.constant(record.address),
              weightWei: fc.bigInt(0n, 2n ** 200n),
              signingKey: arbitraryAddress,
            }),
          ),
        ),
        thresholdWeightWei: fc.bigInt(0n, 2n ** 201n),
      })
      .map(({ reads: operatorReads, thresholdWeightWei }) => ({
        ...reads(epoch, operatorReads),
        thresholdWeightWei,
      }));
  }

  /** Operators, then reads for three ascending epochs. */
  const scenario = arbitraryOperators.chain((operators) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: 14 }), { minLength: 3, maxLength: 3 })
      .map((epochs) => [...epochs].sort((a, b) => a - b))
      .chain((epochs) =>
        fc
          .tuple(...epochs.map((epoch) => arbitraryReads(operators, epoch)))
          .map((readsInOrder) => ({ operators, readsInOrder })),
      ),
  );

  test('property: applying the same epoch twice is the same as applying it once', () => {
    fc.assert(
      fc.property(scenario, ({ operators, readsInOrder: [first] }) => {
        if (first === undefined) return;
        const once = advanceEpoch(operators, first);
        const twice = advanceEpoch(once.operators, first);
        expect(twice.operators).toEqual(once.operators);
        expect(twice.epochOperators).toEqual(once.epochOperators);
        expect(twice.epochState).toEqual(once.epochState);
        expect(twice.statusChanges).toEqual([]);
      }),
    );
  });

  test('property: catching up in order equals advancing one epoch at a time', () => {
    fc.assert(
      fc.property(scenario, ({ operators, readsInOrder }) => {
        const caughtUp = catchUpEpochs(operators, readsInOrder);
        let current: readonly OperatorRecord[] = operators;
        readsInOrder.forEach((epochReads, index) => {
          const step = advanceEpoch(current, epochReads);
          expect(caughtUp[index]).toEqual(step);
          current = step.operators;
        });
      }),
    );
  });

  test('property: jumping straight to the last epoch lands on the same operators as stepping', () => {
    fc.assert(
      fc.property(scenario, ({ operators, readsInOrder }) => {
        const last = readsInOrder.at(-1);
        if (last === undefined) return;
        const stepped = catchUpEpochs(operators, readsInOrder).at(-1);
        const jumped = advanceEpoch(operators, last);
        expect(jumped.operators).toEqual(stepped?.operators);
        expect(jumped.epochOperators).toEqual(stepped?.epochOperators);
      }),
    );
  });

  test('property: every status change is legal, suspended stays, snapshot = active operators', () => {
    fc.assert(
      fc.property(scenario, ({ operators, readsInOrder: [first] }) => {
        if (first === undefined) return;
        const result = advanceEpoch(operators, first);
        for (const record of result.operators) {
          const before = operators.find((candidate) => candidate.address === record.address);
          if (before?.status === 'suspended') expect(record.status).toBe('suspended');
          const read = first.operators.find((candidate) => candidate.operator === record.address);
          expect([record.weightWei, record.signingKey]).toEqual([
            read?.weightWei,
            read?.signingKey,
          ]);
        }
        expect(result.epochOperators.map((entry) => entry.operator)).toEqual(
          result.operators
            .filter((record) => record.status === 'active')
            .map((record) => record.address),
        );
        const numeric = result.operators.map((record) => BigInt(record.address));
        expect(numeric).toEqual([...numeric].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }),
    );
  });
});
