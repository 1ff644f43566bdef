import fc from 'fast-check';
import { bytesToHex, encodePacked, getAddress, keccak256, stringToHex } from 'viem';
import { describe, expect, test } from 'vitest';
import { FieldOutOfRangeError, InvalidAddressError } from './errors.ts';
import {
  computeTaskId,
  encodeTaskIdPreimage,
  TASK_ID_PREIMAGE_BYTES,
  type TaskIdFields,
} from './task-id.ts';
import { catchError } from './test-fixtures.ts';

/** The straightforward reference: viem's encodePacked of the typed tuple. */
function referenceTaskId(fields: TaskIdFields) {
  return keccak256(
    encodePacked(
      ['address', 'uint32', 'uint64', 'uint48', 'uint32', 'uint256', 'uint256'],
      [
        fields.user,
        fields.chainId,
        fields.blockNumber,
        Number(fields.timestampSec),
        fields.epoch,
        fields.key,
        fields.value,
      ],
    ),
  );
}

const MAX = {
  uint32: 2 ** 32 - 1,
  uint48: 2n ** 48n - 1n,
  uint64: 2n ** 64n - 1n,
  uint256: 2n ** 256n - 1n,
};

/** Biased towards 0 and the top of each width, where truncation bugs live. */
function uintUpTo(max: bigint) {
  return fc.oneof(fc.constantFrom(0n, 1n, max - 1n, max), fc.bigInt(0n, max));
}

const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((bytes) => getAddress(bytesToHex(bytes)));

const fields: fc.Arbitrary<TaskIdFields> = fc.record({
  user: address,
  chainId: uintUpTo(BigInt(MAX.uint32)).map(Number),
  blockNumber: uintUpTo(MAX.uint64),
  timestampSec: uintUpTo(MAX.uint48),
  epoch: uintUpTo(BigInt(MAX.uint32)).map(Number),
  key: uintUpTo(MAX.uint256),
  value: uintUpTo(MAX.uint256),
});

const example: TaskIdFields = {
  user: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
  chainId: 10,
  blockNumber: 123_456_789n,
  timestampSec: 1_700_000_000n,
  epoch: 42,
  key: 7n,
  value: 1_000_000_000_000_000_001n,
};

describe('computeTaskId', () => {
  test('property: equals keccak256(encodePacked(typed tuple)) for any in-range fields', () => {
    fc.assert(
      fc.property(fields, (taskFields) => {
        expect(computeTaskId(taskFields)).toBe(referenceTaskId(taskFields));
      }),
      { numRuns: 500 },
    );
  });

  test('behavior: every field at its maximum width', () => {
    const maxed: TaskIdFields = {
      user: '0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF',
      chainId: MAX.uint32,
      blockNumber: MAX.uint64,
      timestampSec: MAX.uint48,
      epoch: MAX.uint32,
      key: MAX.uint256,
      value: MAX.uint256,
    };
    expect(computeTaskId(maxed)).toBe(referenceTaskId(maxed));
    expect(bytesToHex(encodeTaskIdPreimage(maxed))).toBe(
      `0x${'ff'.repeat(TASK_ID_PREIMAGE_BYTES)}`,
    );
  });

  test('behavior: the preimage is 106 packed bytes in declaration order', () => {
    const preimage = bytesToHex(encodeTaskIdPreimage(example));
    expect(preimage).toBe(
      `0x${[
        '5b38da6a701c568545dcfcb03fcb875f56beddc4', // address, 20 bytes
        '0000000a', // uint32 chainId
        '00000000075bcd15', // uint64 blockNumber
        '00006553f100', // uint48 timestamp
        '0000002a', // uint32 epoch
        7n.toString(16).padStart(64, '0'), // uint256 key
        1_000_000_000_000_000_001n.toString(16).padStart(64, '0'), // uint256 value
      ].join('')}`,
    );
  });

  test('behavior: a lowercase address hashes like its checksummed form', () => {
    expect(computeTaskId({ ...example, user: example.user.toLowerCase() as `0x${string}` })).toBe(
      computeTaskId(example),
    );
  });

  test('behavior: not the hash of decimal strings (a pitfall of an earlier implementation)', () => {
    const decimal = keccak256(
      stringToHex(
        [
          example.user,
          example.chainId,
          example.blockNumber,
          example.timestampSec,
          example.epoch,
          example.key,
          example.value,
        ].join(''),
      ),
    );
    expect(computeTaskId(example)).not.toBe(decimal);
  });

  test('behavior: epoch and timestamp change the id', () => {
    const id = computeTaskId(example);
    expect(computeTaskId({ ...example, epoch: 43 })).not.toBe(id);
    expect(computeTaskId({ ...example, timestampSec: example.timestampSec + 1n })).not.toBe(id);
  });
});

describe('range validation', () => {
  const overflows: [keyof TaskIdFields, bigint | number, string][] = [
    ['chainId', MAX.uint32 + 1, 'uint32'],
    ['blockNumber', MAX.uint64 + 1n, 'uint64'],
    ['timestampSec', MAX.uint48 + 1n, 'uint48'],
    ['epoch', MAX.uint32 + 1, 'uint32'],
    ['key', MAX.uint256 + 1n, 'uint256'],
    ['value', MAX.uint256 + 1n, 'uint256'],
    ['chainId', -1, 'uint32'],
    ['blockNumber', -1n, 'uint64'],
    ['value', -1n, 'uint256'],
    ['epoch', 1.5, 'uint32'],
    ['chainId', Number.NaN, 'uint32'],
  ];

  test.each(overflows)(
    'behavior: %s = %s throws FieldOutOfRangeError naming the field',
    (field, value, type) => {
      const error = catchError(() => computeTaskId({ ...example, [field]: value }));
      expect(error).toBeInstanceOf(FieldOutOfRangeError);
      expect(error).toMatchObject({ code: 'FIELD_OUT_OF_RANGE', field, solidityType: type });
    },
  );

  test('property: any value above a field width throws, never truncates', () => {
    const widths = {
      chainId: 32n,
      blockNumber: 64n,
      timestampSec: 48n,
      epoch: 32n,
      key: 256n,
      value: 256n,
    } as const;
    fc.assert(
      fc.property(
        fields,
        fc.constantFrom(...(Object.keys(widths) as (keyof typeof widths)[])),
        fc.bigInt(0n, 2n ** 300n),
        (taskFields, field, excess) => {
          const tooLarge = (1n << widths[field]) + excess;
          const value = field === 'chainId' || field === 'epoch' ? Number(tooLarge) : tooLarge;
          expect(() => computeTaskId({ ...taskFields, [field]: value })).toThrow(
            FieldOutOfRangeError,
          );
        },
      ),
    );
  });

  test('behavior: an invalid user address throws InvalidAddressError', () => {
    for (const user of ['0x1234', '0x5B38Da6a701c568545dCfcB03FcB875f56beddc4', 'hello']) {
      expect(() => computeTaskId({ ...example, user: user as `0x${string}` })).toThrow(
        InvalidAddressError,
      );
    }
  });
});
