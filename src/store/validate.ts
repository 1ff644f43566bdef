import { type Address, type Hex, isAddress } from 'viem';
import { checksumAddressOf } from '../core/address.ts';
import { isOperatorStatus, type OperatorStatus } from '../core/operator-status.ts';
import { isTaskStatus, type TaskStatus } from '../core/task-status.ts';
import { StoreInputError } from './errors.ts';

/**
 * Argument checks run before any query, so bad input fails with a StoreInputError naming the
 * field instead of reaching the database. Each check returns the value in its stored form
 * (addresses and hex lowercased), so callers cannot forget to normalise.
 */

export const UINT256_MAX = 2n ** 256n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;
export const UINT48_MAX = 2n ** 48n - 1n;
export const UINT32_MAX = 2 ** 32 - 1;
/** Largest value of a Postgres INTEGER column (counters). */
export const INT32_MAX = 2 ** 31 - 1;

/** Upper bounds on free-form inputs ("put a limit on everything"). */
export const MAX_TEXT_LENGTH = 1024;
export const MAX_PEER_ADDRESSES = 32;
export const MAX_SIGNATURE_DATA_BYTES = 256 * 1024;
export const MAX_EVENT_DATA_BYTES = 64 * 1024;
export const MAX_LIST_LIMIT = 10_000;

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export interface InputChecks {
  /** A 20-byte address; mixed case must carry a valid EIP-55 checksum. Returns lowercase. */
  address(field: string, value: unknown): Lowercase<Address>;
  /** 32 bytes of hex (task ids, block hashes). Returns lowercase. */
  bytes32(field: string, value: unknown): Hex;
  /** A 65-byte r‖s‖v signature with v = 27 or 28. Returns lowercase. */
  signature(field: string, value: unknown): Hex;
  /** Any whole number of bytes as hex, at most `maxBytes`. Returns lowercase. */
  hexBytes(field: string, value: unknown, maxBytes: number): Hex;
  uint256(field: string, value: unknown): bigint;
  uint64(field: string, value: unknown): bigint;
  uint48(field: string, value: unknown): bigint;
  /** Epochs and chain ids. */
  uint32(field: string, value: unknown): number;
  /** Non-negative counters that fit an INTEGER column. */
  counter(field: string, value: unknown): number;
  /** A database-generated id (BIGSERIAL), for paging. */
  rowId(field: string, value: unknown): number;
  /** A positive bound such as a list limit. */
  positiveInteger(field: string, value: unknown, max: number): number;
  /** Milliseconds since the Unix epoch. */
  timestampMs(field: string, value: unknown): number;
  operatorStatus(field: string, value: unknown): OperatorStatus;
  taskStatus(field: string, value: unknown): TaskStatus;
  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T;
  /** Non-empty text of at most `maxLength` characters. */
  text(field: string, value: unknown, maxLength: number): string;
  /** Text matching `pattern`, described as `what` in the error. */
  matching(field: string, value: unknown, pattern: RegExp, what: string): string;
  /** A JSON value whose serialisation is at most `maxBytes`; returns the JSON text. */
  json(field: string, value: unknown, maxBytes: number): string;
  /** An array of at most `maxLength` items. */
  array(field: string, value: unknown, maxLength: number): readonly unknown[];
  /** Fails unless `ok`, with `problem` as the message. */
  require(ok: boolean, field: string, problem: string): void;
}

/** Checks bound to one operation name, which every error message starts with. */
export function inputChecks(operation: string): InputChecks {
  const fail = (field: string, problem: string): never => {
    throw new StoreInputError(operation, field, problem);
  };
  const hex = (field: string, value: unknown, pattern: RegExp, what: string): Hex => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      return fail(field, `expected ${what}, got ${describe(value)}`);
    }
    return value.toLowerCase() as Hex;
  };
  const unsigned = (field: string, value: unknown, max: bigint, what: string): bigint => {
    if (typeof value !== 'bigint') {
      return fail(field, `expected a bigint (${what}), got ${describe(value)}`);
    }
    if (value < 0n) return fail(field, `must not be negative (${what}), got ${value}`);
    if (value > max) return fail(field, `out of range for ${what}, got ${value}`);
    return value;
  };
  const integer = (
    field: string,
    value: unknown,
    min: number,
    max: number,
    what: string,
  ): number => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return fail(field, `expected an integer (${what}), got ${describe(value)}`);
    }
    if (value < min) {
      return fail(
        field,
        min === 0
          ? `must not be negative (${what}), got ${value}`
          : `must be at least ${min}, got ${value}`,
      );
    }
    if (value > max) return fail(field, `out of range for ${what}, got ${value}`);
    return value;
  };

  return {
    address(field, value) {
      if (typeof value !== 'string' || !isAddress(value, { strict: true })) {
        return fail(
          field,
          `expected a 20-byte hex address (0x + 40 hex digits, valid EIP-55 checksum if mixed case), got ${describe(value)}`,
        );
      }
      return value.toLowerCase() as Lowercase<Address>;
    },
    bytes32: (field, value) =>
      hex(field, value, /^0x[0-9a-fA-F]{64}$/, '32 bytes of hex (0x + 64 hex digits)'),
    signature(field, value) {
      const signature = hex(
        field,
        value,
        /^0x[0-9a-fA-F]{130}$/,
        'a 65-byte signature (0x + 130 hex digits)',
      );
      const v = signature.slice(-2);
      if (v !== '1b' && v !== '1c') {
        return fail(field, `signature v must be 27 or 28 (0x1b/0x1c), got 0x${v}`);
      }
      return signature;
    },
    hexBytes(field, value, maxBytes) {
      const bytes = hex(
        field,
        value,
        /^0x(?:[0-9a-fA-F]{2})*$/,
        'hex bytes (0x + an even number of hex digits)',
      );
      if ((bytes.length - 2) / 2 > maxBytes) return fail(field, `longer than ${maxBytes} bytes`);
      return bytes;
    },
    uint256: (field, value) => unsigned(field, value, UINT256_MAX, 'uint256'),
    uint64: (field, value) => unsigned(field, value, UINT64_MAX, 'uint64'),
    uint48: (field, value) => unsigned(field, value, UINT48_MAX, 'uint48'),
    uint32: (field, value) => integer(field, value, 0, UINT32_MAX, 'uint32'),
    counter: (field, value) => integer(field, value, 0, INT32_MAX, 'a non-negative 32-bit counter'),
    rowId: (field, value) => integer(field, value, 0, Number.MAX_SAFE_INTEGER, 'a row id'),
    positiveInteger: (field, value, max) =>
      integer(field, value, 1, max, `an integer up to ${max}`),
    timestampMs: (field, value) =>
      integer(field, value, 0, Number.MAX_SAFE_INTEGER, 'milliseconds since the Unix epoch'),
    operatorStatus(field, value) {
      if (!isOperatorStatus(value)) {
        return fail(field, `unknown operator status ${describe(value)}`);
      }
      return value;
    },
    taskStatus(field, value) {
      if (!isTaskStatus(value)) return fail(field, `unknown task status ${describe(value)}`);
      return value;
    },
    oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
      if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
        return fail(field, `expected one of ${allowed.join(', ')}, got ${describe(value)}`);
      }
      return value as T;
    },
    text(field, value, maxLength) {
      if (typeof value !== 'string' || value.length === 0) {
        return fail(field, `expected non-empty text, got ${describe(value)}`);
      }
      if (value.length > maxLength) return fail(field, `longer than ${maxLength} characters`);
      return value;
    },
    matching(field, value, pattern, what) {
      if (typeof value !== 'string' || !pattern.test(value)) {
        return fail(field, `expected ${what}, got ${describe(value)}`);
      }
      return value;
    },
    json(field, value, maxBytes) {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (error) {
        return fail(
          field,
          `not serialisable as JSON (${(error as Error).message}); encode bigints as strings`,
        );
      }
      if (text === undefined) return fail(field, 'not serialisable as JSON');
      if (text.length > maxBytes) return fail(field, `JSON longer than ${maxBytes} bytes`);
      return text;
    },
    array(field, value, maxLength) {
      if (!Array.isArray(value)) return fail(field, `expected an array, got ${describe(value)}`);
      if (value.length > maxLength) return fail(field, `more than ${maxLength} items`);
      return value;
    },
    require(ok, field, problem) {
      if (!ok) fail(field, problem);
    },
  };
}

/** The EIP-55 form node code compares with what the chain adapters return. */
export function toChecksumAddress(stored: string): Address {
  return checksumAddressOf(stored);
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
