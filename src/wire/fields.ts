import { type Address, bytesToHex, type Hex, hexToBytes, isAddress, isHex } from 'viem';
import { checksumAddressOf } from '../core/address.ts';
import { type WireErrorCode, WireValidationError } from './errors.ts';

/**
 * Field rules shared by every codec, in both directions. Decoding turns raw protobuf fields into
 * domain values (checksummed addresses, bigints, 0x-hex) and refuses anything out of shape;
 * encoding refuses domain values that could not be decoded back, so a node never sends what its
 * peers would reject.
 */

export const ADDRESS_BYTES = 20;
export const UINT256_BYTES = 32;
export const HASH_BYTES = 32;
export const SIGNATURE_BYTES = 65;

const MAX_UINT32 = 2 ** 32 - 1;
const MAX_UINT48 = (1n << 48n) - 1n;
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_UINT256 = (1n << 256n) - 1n;

/** A protobuf enum as ts-proto emits it: names to numbers. */
export type EnumTable<Name extends string, Value extends number = number> = Readonly<
  Record<Name, Value>
>;

export interface WireFields {
  readonly messageType: string;
  fail(code: WireErrorCode, field: string | null, detail: string): never;

  // Decoding: raw protobuf values → domain values.
  address(field: string, bytes: Uint8Array): Address;
  /** Empty bytes mean "none". */
  optionalAddress(field: string, bytes: Uint8Array): Address | null;
  uint256(field: string, bytes: Uint8Array): bigint;
  /** Empty bytes mean "none". */
  optionalUint256(field: string, bytes: Uint8Array): bigint | null;
  hash(field: string, bytes: Uint8Array): Hex;
  /** Empty bytes mean "none". */
  optionalHash(field: string, bytes: Uint8Array): Hex | null;
  /** Exactly 65 bytes; v and low-s are the signature verifier's business (it counts them). */
  signature(field: string, bytes: Uint8Array): Hex;
  fixedBytes(field: string, bytes: Uint8Array, length: number): Hex;
  /** A uint64 that node code handles as a number (milliseconds, counters). */
  safeInteger(field: string, value: bigint): number;
  uint48(field: string, value: bigint): bigint;
  positive(field: string, value: number): number;
  text(field: string, value: string, rule: TextRule): string;
  list<T>(field: string, items: readonly T[], rule: ListRule): readonly T[];
  enumName<Name extends string>(field: string, value: number, table: EnumTable<Name>): Name;
  oneOf<Value extends string>(field: string, value: string, allowed: readonly Value[]): Value;
  /** Strictly ascending as 160-bit numbers, the order the registry's `isValidSignature` demands. */
  ascendingAddresses(field: string, addresses: readonly Address[]): void;
  distinctAddresses(field: string, addresses: readonly Address[]): void;

  // Encoding: domain values → raw protobuf values.
  addressBytes(field: string, address: Address): Uint8Array;
  optionalAddressBytes(field: string, address: Address | null): Uint8Array;
  uint256Bytes(field: string, value: bigint): Uint8Array;
  optionalUint256Bytes(field: string, value: bigint | null): Uint8Array;
  hexBytes(field: string, value: Hex, length: number): Uint8Array;
  optionalHexBytes(field: string, value: Hex | null, length: number): Uint8Array;
  /** Variable-length bytes given as hex (e.g. ABI-encoded signature data). */
  anyHexBytes(field: string, value: Hex): Uint8Array;
  uint32(field: string, value: number): number;
  uint64(field: string, value: bigint | number): bigint;
  enumNumber<Name extends string, Value extends number>(
    field: string,
    name: Name,
    table: EnumTable<Name, Value>,
  ): Value;
}

export interface TextRule {
  maxChars: number;
  /** Empty text is refused (MISSING_FIELD). */
  required?: boolean;
  /** The characters allowed, described for the error message. */
  pattern?: { regex: RegExp; description: string };
}

export interface ListRule {
  maxItems: number;
  /** An empty list is refused (MISSING_FIELD). */
  required?: boolean;
}

export function wireFields(messageType: string): WireFields {
  const fail = (code: WireErrorCode, field: string | null, detail: string): never => {
    throw new WireValidationError({ code, messageType, field, detail });
  };
  const expectLength = (field: string, bytes: Uint8Array, length: number): void => {
    if (bytes.length !== length) {
      fail('INVALID_LENGTH', field, `expected ${length} bytes, got ${bytes.length}`);
    }
  };
  const fixedBytes = (field: string, bytes: Uint8Array, length: number): Hex => {
    expectLength(field, bytes, length);
    return bytesToHex(bytes);
  };
  const address = (field: string, bytes: Uint8Array): Address => {
    expectLength(field, bytes, ADDRESS_BYTES);
    return checksumAddressOf(bytesToHex(bytes));
  };
  const uint256 = (field: string, bytes: Uint8Array): bigint => {
    expectLength(field, bytes, UINT256_BYTES);
    return BigInt(bytesToHex(bytes));
  };
  const hexBytes = (field: string, value: Hex, length: number): Uint8Array => {
    if (!isHex(value, { strict: true }) || value.length !== 2 + 2 * length) {
      fail('INVALID_LENGTH', field, `expected ${length} bytes of 0x-hex, got ${describe(value)}`);
    }
    return hexToBytes(value);
  };
  const addressBytes = (field: string, value: Address): Uint8Array => {
    if (!isAddress(value)) {
      fail(
        'INVALID_ADDRESS',
        field,
        `${describe(value)} is not a 20-byte address (or its checksum is wrong)`,
      );
    }
    return hexToBytes(value);
  };
  const uint256Bytes = (field: string, value: bigint): Uint8Array => {
    if (value < 0n || value > MAX_UINT256) fail('OUT_OF_RANGE', field, `${value} is not a uint256`);
    return hexToBytes(`0x${value.toString(16).padStart(2 * UINT256_BYTES, '0')}`);
  };

  return {
    messageType,
    fail,
    address,
    optionalAddress: (field, bytes) => (bytes.length === 0 ? null : address(field, bytes)),
    uint256,
    optionalUint256: (field, bytes) => (bytes.length === 0 ? null : uint256(field, bytes)),
    hash: (field, bytes) => fixedBytes(field, bytes, HASH_BYTES),
    optionalHash: (field, bytes) =>
      bytes.length === 0 ? null : fixedBytes(field, bytes, HASH_BYTES),
    signature: (field, bytes) => fixedBytes(field, bytes, SIGNATURE_BYTES),
    fixedBytes,
    safeInteger(field, value) {
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        fail('OUT_OF_RANGE', field, `${value} is above 2^53 - 1`);
      }
      return Number(value);
    },
    uint48(field, value) {
      if (value > MAX_UINT48) fail('OUT_OF_RANGE', field, `${value} does not fit uint48`);
      return value;
    },
    positive(field, value) {
      if (value <= 0) fail('OUT_OF_RANGE', field, `must be at least 1, got ${value}`);
      return value;
    },
    text(field, value, rule) {
      if (rule.required === true && value.length === 0) fail('MISSING_FIELD', field, 'is empty');
      if (value.length > rule.maxChars) {
        fail(
          'INVALID_TEXT',
          field,
          `${value.length} characters, over the ${rule.maxChars}-character limit`,
        );
      }
      if (!value.isWellFormed()) fail('INVALID_TEXT', field, 'is not well-formed Unicode');
      if (rule.pattern !== undefined && value.length > 0 && !rule.pattern.regex.test(value)) {
        fail('INVALID_TEXT', field, `${JSON.stringify(value)} is not ${rule.pattern.description}`);
      }
      return value;
    },
    list(field, items, rule) {
      if (rule.required === true && items.length === 0) fail('MISSING_FIELD', field, 'is empty');
      if (items.length > rule.maxItems) {
        fail('TOO_MANY_ITEMS', field, `${items.length} items, over the limit of ${rule.maxItems}`);
      }
      return items;
    },
    enumName<Name extends string>(field: string, value: number, table: EnumTable<Name>): Name {
      for (const [name, number] of Object.entries(table) as [Name, number][]) {
        if (number === value) return name;
      }
      return fail('UNKNOWN_ENUM_VALUE', field, `${value} is not a known value`);
    },
    oneOf<Value extends string>(field: string, value: string, allowed: readonly Value[]): Value {
      const match = allowed.find((candidate) => candidate === value);
      if (match === undefined) {
        fail(
          'UNKNOWN_ENUM_VALUE',
          field,
          `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`,
        );
      }
      return match as Value;
    },
    ascendingAddresses(field, addresses) {
      for (let index = 1; index < addresses.length; index++) {
        const previous = BigInt(addresses[index - 1] as Address);
        const current = BigInt(addresses[index] as Address);
        if (current === previous) {
          fail('DUPLICATE_ITEM', `${field}[${index}]`, `${addresses[index]} is listed twice`);
        }
        if (current < previous) {
          fail(
            'NOT_SORTED',
            `${field}[${index}]`,
            `${addresses[index]} sorts before the address listed ahead of it`,
          );
        }
      }
    },
    distinctAddresses(field, addresses) {
      const seen = new Set<string>();
      addresses.forEach((entry, index) => {
        const key = entry.toLowerCase();
        if (seen.has(key)) fail('DUPLICATE_ITEM', `${field}[${index}]`, `${entry} is listed twice`);
        seen.add(key);
      });
    },

    addressBytes,
    optionalAddressBytes: (field, value) =>
      value === null ? new Uint8Array(0) : addressBytes(field, value),
    uint256Bytes,
    optionalUint256Bytes: (field, value) =>
      value === null ? new Uint8Array(0) : uint256Bytes(field, value),
    hexBytes,
    optionalHexBytes: (field, value, length) =>
      value === null ? new Uint8Array(0) : hexBytes(field, value, length),
    anyHexBytes(field, value) {
      if (!isHex(value, { strict: true }) || value.length % 2 !== 0) {
        fail('INVALID_LENGTH', field, `${describe(value)} is not whole bytes of 0x-hex`);
      }
      return hexToBytes(value);
    },
    uint32(field, value) {
      if (!Number.isInteger(value) || value < 0 || value > MAX_UINT32) {
        fail('OUT_OF_RANGE', field, `${value} is not a uint32`);
      }
      return value;
    },
    uint64(field, value) {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        fail('OUT_OF_RANGE', field, `${value} is not a safe integer`);
      }
      const asBigInt = BigInt(value);
      if (asBigInt < 0n || asBigInt > MAX_UINT64)
        fail('OUT_OF_RANGE', field, `${value} is not a uint64`);
      return asBigInt;
    },
    enumNumber<Name extends string, Value extends number>(
      field: string,
      name: Name,
      table: EnumTable<Name, Value>,
    ): Value {
      const number: Value | undefined = table[name];
      if (number === undefined)
        fail('UNKNOWN_ENUM_VALUE', field, `${String(name)} is not a known value`);
      return number;
    },
  };
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
}
