import { type Address, type Hex, isAddress, isHex } from 'viem';
import { type ChainErrorContext, InvalidChainArgumentError } from '../../chain/errors.ts';

const UINT256_MAX = 2n ** 256n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const UINT32_MAX = 2 ** 32 - 1;

/** Argument checks done before any RPC, so bad input never reaches the chain. */
export function checkAddress(field: string, value: string, context: ChainErrorContext): Address {
  if (!isAddress(value, { strict: false })) {
    throw new InvalidChainArgumentError(
      field,
      `must be a 20-byte hex address, got ${value}`,
      context,
    );
  }
  return value;
}

export function checkUint256(field: string, value: bigint, context: ChainErrorContext): bigint {
  if (value < 0n || value > UINT256_MAX) {
    throw new InvalidChainArgumentError(field, `must fit uint256, got ${value}`, context);
  }
  return value;
}

export function checkBlockNumber(field: string, value: bigint, context: ChainErrorContext): bigint {
  if (value < 0n || value > UINT64_MAX) {
    throw new InvalidChainArgumentError(
      field,
      `must be a block number (uint64), got ${value}`,
      context,
    );
  }
  return value;
}

export function checkEpoch(field: string, value: number, context: ChainErrorContext): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new InvalidChainArgumentError(field, `must be an epoch (uint32), got ${value}`, context);
  }
  return value;
}

export function checkBytes32(field: string, value: string, context: ChainErrorContext): Hex {
  if (!isHex(value) || value.length !== 66) {
    throw new InvalidChainArgumentError(field, `must be 32 bytes of hex, got ${value}`, context);
  }
  return value;
}
