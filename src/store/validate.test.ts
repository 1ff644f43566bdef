import { describe, expect, test } from 'vitest';
import { StoreInputError } from './errors.ts';
import { inputChecks, UINT256_MAX } from './validate.ts';

const checks = inputChecks('test.op');

function rejection(run: () => unknown): StoreInputError {
  try {
    run();
  } catch (error) {
    if (error instanceof StoreInputError) return error;
    throw error;
  }
  throw new Error('expected a StoreInputError');
}

describe('inputChecks', () => {
  test('behavior: addresses are lowercased; a wrong EIP-55 checksum is refused', () => {
    expect(checks.address('a', '0x52908400098527886E0F7030069857D2E4169EE7')).toBe(
      '0x52908400098527886e0f7030069857d2e4169ee7',
    );
    expect(checks.address('a', '0x52908400098527886e0f7030069857d2e4169ee7')).toBe(
      '0x52908400098527886e0f7030069857d2e4169ee7',
    );
    const error = rejection(() =>
      checks.address('operator', '0x52908400098527886E0F7030069857D2E4169Ee7'),
    );
    expect(error).toMatchObject({ code: 'INVALID_INPUT', field: 'operator', operation: 'test.op' });
    expect(error.message).toMatch(/^test\.op: operator: expected a 20-byte hex address/);
  });

  test('behavior: uint256 takes bigints from 0 to 2^256-1 only', () => {
    expect(checks.uint256('w', 0n)).toBe(0n);
    expect(checks.uint256('w', UINT256_MAX)).toBe(UINT256_MAX);
    expect(rejection(() => checks.uint256('w', -1n)).message).toBe(
      'test.op: w: must not be negative (uint256), got -1',
    );
    expect(rejection(() => checks.uint256('w', UINT256_MAX + 1n)).message).toMatch(
      /out of range for uint256/,
    );
    expect(rejection(() => checks.uint256('w', 1)).message).toMatch(
      /expected a bigint \(uint256\), got 1/,
    );
  });

  test('behavior: uint32 takes integers from 0 to 2^32-1 only', () => {
    expect(checks.uint32('epoch', 2 ** 32 - 1)).toBe(2 ** 32 - 1);
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, '1', 1n]) {
      expect(() => checks.uint32('epoch', bad)).toThrow(StoreInputError);
    }
  });

  test('behavior: signatures need 65 bytes and v = 27 or 28', () => {
    const body = '11'.repeat(64);
    expect(checks.signature('s', `0x${body}1B`)).toBe(`0x${body}1b`);
    expect(checks.signature('s', `0x${body}1c`)).toBe(`0x${body}1c`);
    expect(rejection(() => checks.signature('s', `0x${body}01`)).message).toMatch(
      /v must be 27 or 28/,
    );
    expect(() => checks.signature('s', `0x${body}`)).toThrow(/65-byte signature/);
  });

  test('behavior: statuses must be known', () => {
    expect(checks.operatorStatus('status', 'suspended')).toBe('suspended');
    expect(rejection(() => checks.operatorStatus('status', 'retired')).message).toBe(
      'test.op: status: unknown operator status "retired"',
    );
    expect(() => checks.taskStatus('status', 'done')).toThrow(/unknown task status "done"/);
  });

  test('behavior: JSON data must serialise and stay within its bound', () => {
    expect(checks.json('data', { a: [1, 'x', null] }, 100)).toBe('{"a":[1,"x",null]}');
    expect(() => checks.json('data', { weight: 1n }, 100)).toThrow(/encode bigints as strings/);
    expect(() => checks.json('data', 'x'.repeat(200), 100)).toThrow(/longer than 100 bytes/);
  });

  test('behavior: hex bytes must be whole bytes within their bound', () => {
    expect(checks.hexBytes('d', '0xABcd', 4)).toBe('0xabcd');
    expect(checks.hexBytes('d', '0x', 4)).toBe('0x');
    expect(() => checks.hexBytes('d', '0xabc', 4)).toThrow(/even number of hex digits/);
    expect(() => checks.hexBytes('d', `0x${'00'.repeat(5)}`, 4)).toThrow(/longer than 4 bytes/);
  });
});
