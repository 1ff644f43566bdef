import { type Address, encodeAbiParameters, type Hex, hexToBigInt } from 'viem';
import { sign } from 'viem/accounts';
import type { AnvilChain } from '../../src/adapters/anvil/anvil.ts';

/** Mines empty blocks until the head is `blockNumber`. */
export async function mineUntil(anvil: AnvilChain, blockNumber: bigint): Promise<void> {
  const head = await anvil.publicClient.getBlockNumber({ cacheTime: 0 });
  if (head > blockNumber) throw new Error(`head ${head} is already past ${blockNumber}`);
  if (head < blockNumber) await anvil.mine(Number(blockNumber - head));
}

/** Runs `send` so that its transaction lands exactly in `blockNumber` (manual mining). */
export async function sendInBlock(
  anvil: AnvilChain,
  blockNumber: bigint,
  send: () => Promise<unknown>,
): Promise<void> {
  await mineUntil(anvil, blockNumber - 1n);
  await send();
  await anvil.mine(1);
}

/** A raw 65-byte r‖s‖v signature over `digest`, v = 27/28, low s. */
export function signDigest(privateKey: Hex, digest: Hex): Promise<Hex> {
  return sign({ hash: digest, privateKey, to: 'hex' });
}

export function sortByAddressNumber<T extends { operator: Address }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => {
    const x = hexToBigInt(a.operator);
    const y = hexToBigInt(b.operator);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch), unchecked. */
export function encodeSignatureData(
  operators: readonly Address[],
  signatures: readonly Hex[],
  epoch: number,
): Hex {
  return encodeAbiParameters(
    [{ type: 'address[]' }, { type: 'bytes[]' }, { type: 'uint32' }],
    [operators, signatures, epoch],
  );
}
