import { type Address, type Hex, hexToBytes, keccak256 } from 'viem';
import { toChecksumAddress } from './address.ts';
import { toUint, type UintType } from './uint.ts';

/**
 * The fields a task id commits to. The same request in the same epoch is the same task, and a
 * proof from one epoch cannot be replayed for another: epoch and timestamp are part of the digest.
 */
export interface TaskIdFields {
  /** The account whose StateManager entry is proven (the request's targetAddress). */
  user: Address;
  chainId: number;
  blockNumber: bigint;
  timestampSec: bigint;
  epoch: number;
  key: bigint;
  value: bigint;
}

/** Layout of `abi.encodePacked(address, uint32, uint64, uint48, uint32, uint256, uint256)`. */
const UINT_FIELDS: readonly {
  field: Exclude<keyof TaskIdFields, 'user'>;
  type: UintType;
  bytes: number;
}[] = [
  { field: 'chainId', type: 'uint32', bytes: 4 },
  { field: 'blockNumber', type: 'uint64', bytes: 8 },
  { field: 'timestampSec', type: 'uint48', bytes: 6 },
  { field: 'epoch', type: 'uint32', bytes: 4 },
  { field: 'key', type: 'uint256', bytes: 32 },
  { field: 'value', type: 'uint256', bytes: 32 },
];

const ADDRESS_BYTES = 20;
export const TASK_ID_PREIMAGE_BYTES = ADDRESS_BYTES + 4 + 8 + 6 + 4 + 32 + 32;

/**
 * `keccak256(abi.encodePacked(address user, uint32 chainId, uint64 blockNumber, uint48 timestamp,
 * uint32 epoch, uint256 key, uint256 value))`. Every field is written big-endian at its full width;
 * a value that does not fit throws FieldOutOfRangeError naming the field (an earlier implementation
 * truncated fields and hashed decimal strings, so proofs did not match on chain).
 */
export function computeTaskId(fields: TaskIdFields): Hex {
  return keccak256(encodeTaskIdPreimage(fields));
}

/** The 106 packed bytes that `computeTaskId` hashes. */
export function encodeTaskIdPreimage(fields: TaskIdFields): Uint8Array {
  const preimage = new Uint8Array(TASK_ID_PREIMAGE_BYTES);
  preimage.set(hexToBytes(toChecksumAddress('user', fields.user)), 0);
  let offset = ADDRESS_BYTES;
  for (const { field, type, bytes } of UINT_FIELDS) {
    writeBigEndian(preimage, offset, bytes, toUint(field, fields[field], type));
    offset += bytes;
  }
  return preimage;
}

function writeBigEndian(target: Uint8Array, offset: number, width: number, value: bigint): void {
  let rest = value;
  for (let index = offset + width - 1; index >= offset; index--) {
    target[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}
