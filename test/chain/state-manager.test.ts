import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  startTestbed,
  type Testbed,
  type TestbedStateChain,
} from '../../src/adapters/anvil/testbed.ts';
import { ContractRevertError, InvalidChainArgumentError } from '../../src/chain/errors.ts';

const GENESIS_SEC = 1_700_000_000n;
const STATE_CHAIN_ID = 10;

let testbed: Testbed;
let stateChain: TestbedStateChain;
const user = privateKeyToAccount(generatePrivateKey());
const KEY = 7n;
/** Blocks and timestamps of the two committed entries. */
let first: { block: bigint; sec: bigint };
let second: { block: bigint; sec: bigint };
let latest: { block: bigint; sec: bigint };

async function mineAt(sec: bigint): Promise<bigint> {
  await stateChain.anvil.setNextBlockTimestamp(sec);
  await stateChain.anvil.mine(1);
  return stateChain.anvil.publicClient.getBlockNumber({ cacheTime: 0 });
}

beforeAll(async () => {
  testbed = await startTestbed({
    stateChainIds: [STATE_CHAIN_ID],
    manualMining: true,
    genesisTimestampSec: GENESIS_SEC,
  });
  const sc = testbed.stateChains.get(STATE_CHAIN_ID);
  if (!sc) throw new Error('state chain missing');
  stateChain = sc;
  const writer = await stateChain.writerFor(user);
  await mineAt(GENESIS_SEC + 50n);
  await writer.setValue({ key: KEY, value: 111n });
  first = { block: await mineAt(GENESIS_SEC + 100n), sec: GENESIS_SEC + 100n };
  await mineAt(GENESIS_SEC + 150n);
  await writer.setValue({ key: KEY, value: 222n });
  second = { block: await mineAt(GENESIS_SEC + 200n), sec: GENESIS_SEC + 200n };
  latest = { block: await mineAt(GENESIS_SEC + 300n), sec: GENESIS_SEC + 300n };
});

afterAll(async () => {
  await testbed?.stop();
});

describe('getHistoryAtBlock', () => {
  const at = (blockNumber: bigint) =>
    stateChain.chain.getHistoryAtBlock({ user: user.address, key: KEY, blockNumber });

  test('behavior: before the first entry fails with NoHistoryFound', async () => {
    const error = await at(first.block - 1n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractRevertError);
    expect((error as ContractRevertError).errorName).toBe('NoHistoryFound');
    expect((error as Error).message).toBe(
      `state chain ${STATE_CHAIN_ID}: getHistoryAtBlock: reverted with NoHistoryFound`,
    );
  });

  test('behavior: an exact hit returns that entry', async () => {
    expect(await at(first.block)).toEqual({
      value: 111n,
      blockNumber: first.block,
      timestampSec: first.sec,
    });
    expect(await at(second.block)).toEqual({
      value: 222n,
      blockNumber: second.block,
      timestampSec: second.sec,
    });
  });

  test('behavior: between entries returns the earlier one', async () => {
    expect((await at(first.block + 1n)).value).toBe(111n);
    expect((await at(second.block - 1n)).value).toBe(111n);
  });

  test('behavior: after the last entry returns the last one', async () => {
    expect((await at(latest.block)).value).toBe(222n);
  });

  test('behavior: a block not mined yet fails with BlockNotFound', async () => {
    const error = await at(latest.block + 100n).catch((e: unknown) => e);
    expect((error as ContractRevertError).errorName).toBe('BlockNotFound');
  });

  test('behavior: an unknown key has no history', async () => {
    const error = await stateChain.chain
      .getHistoryAtBlock({ user: user.address, key: KEY + 1n, blockNumber: latest.block })
      .catch((e: unknown) => e);
    expect((error as ContractRevertError).errorName).toBe('NoHistoryFound');
  });
});

describe('getHistoryAtTimestamp', () => {
  const at = (timestampSec: bigint) =>
    stateChain.chain.getHistoryAtTimestamp({ user: user.address, key: KEY, timestampSec });

  test('behavior: before the first entry fails with NoHistoryFound', async () => {
    const error = await at(first.sec - 1n).catch((e: unknown) => e);
    expect((error as ContractRevertError).errorName).toBe('NoHistoryFound');
  });

  test('behavior: an exact hit, between entries, and after the last', async () => {
    expect((await at(first.sec)).value).toBe(111n);
    expect((await at(first.sec + 1n)).value).toBe(111n);
    expect((await at(second.sec - 1n)).value).toBe(111n);
    expect((await at(second.sec)).value).toBe(222n);
    expect((await at(latest.sec)).value).toBe(222n);
  });

  test('behavior: a time in the future fails with TimestampNotFound', async () => {
    const error = await at(latest.sec + 1_000n).catch((e: unknown) => e);
    expect((error as ContractRevertError).errorName).toBe('TimestampNotFound');
  });
});

describe('batchSetValues', () => {
  test('behavior: a batch of 100 is stored entry by entry', async () => {
    const batcher = privateKeyToAccount(generatePrivateKey());
    const writer = await stateChain.writerFor(batcher);
    const entries = Array.from({ length: 100 }, (_, i) => ({
      key: BigInt(i),
      value: BigInt(1000 + i),
    }));
    await writer.batchSetValues(entries);
    const block = await mineAt(latest.sec + 10n);
    for (const i of [0, 57, 99]) {
      const entry = await stateChain.chain.getHistoryAtBlock({
        user: batcher.address,
        key: BigInt(i),
        blockNumber: block,
      });
      expect(entry.value).toBe(BigInt(1000 + i));
    }
  });

  test('behavior: 101 entries are refused before sending, and by the contract', async () => {
    const writer = await stateChain.writerFor(user);
    const entries = Array.from({ length: 101 }, (_, i) => ({ key: BigInt(i), value: 1n }));
    expect(() => writer.batchSetValues(entries)).toThrow(InvalidChainArgumentError);
    expect(() => writer.batchSetValues(entries)).toThrow(/entries holds 101 entries; at most 100/);
    const error = await writer
      .batchSetValues(entries, { unchecked: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractRevertError);
    expect((error as ContractRevertError).errorName).toBe('BatchTooLarge');
  });
});

describe('bad input', () => {
  test('behavior: a key beyond uint256 is refused naming the field', async () => {
    await expect(
      stateChain.chain.getHistoryAtBlock({ user: user.address, key: 2n ** 256n, blockNumber: 1n }),
    ).rejects.toThrow(/key must fit uint256/);
  });

  test('behavior: a malformed user address is refused naming the field', async () => {
    await expect(
      stateChain.chain.getHistoryAtBlock({ user: '0x1234', key: 1n, blockNumber: 1n }),
    ).rejects.toThrow(/user must be a 20-byte hex address, got 0x1234/);
  });
});
