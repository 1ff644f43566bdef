import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import type { ContractRevertError } from '../../src/chain/errors.ts';
import { sendInBlock } from '../support/chain-helpers.ts';

// Epochs of 12 blocks; the last 3 blocks of each (offsets 9, 10, 11) are the grace period.
const EPOCH = 12n;
const GRACE = 3n;

let testbed: Testbed;
let genesis: bigint;
const operator = privateKeyToAccount(generatePrivateKey());
const keyA = privateKeyToAccount(generatePrivateKey()).address;
const keyB = privateKeyToAccount(generatePrivateKey()).address;
const keyC = privateKeyToAccount(generatePrivateKey()).address;

/** The block at `offset` within `epoch`. */
const blockAt = (epoch: bigint, offset: bigint) => genesis + epoch * EPOCH + offset;

beforeAll(async () => {
  testbed = await startTestbed({
    epochLengthBlocks: EPOCH,
    gracePeriodBlocks: GRACE,
    manualMining: true,
  });
  genesis = testbed.deployment.genesisBlock;
});

afterAll(async () => {
  await testbed?.stop();
});

describe('weight and signing-key checkpoints', () => {
  test('behavior: registration outside the grace period takes effect next epoch', async () => {
    const block = blockAt(0n, 4n);
    expect(await testbed.main.getEffectiveEpochForBlock(block)).toBe(1);
    await sendInBlock(testbed.mainAnvil, block, () =>
      testbed.registry.registerOperator({
        operator: operator.address,
        signingKey: keyA,
        weight: 100n,
      }),
    );
    const main = testbed.main;
    expect(await main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 0 })).toBe(0n);
    expect(await main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 1 })).toBe(
      100n,
    );
    expect(await main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 9 })).toBe(
      100n,
    );
    expect(await main.getOperatorSigningKeyAtEpoch({ operator: operator.address, epoch: 0 })).toBe(
      '0x0000000000000000000000000000000000000000',
    );
    expect(await main.getOperatorSigningKeyAtEpoch({ operator: operator.address, epoch: 1 })).toBe(
      keyA,
    );
    expect(await main.getTotalWeightAtEpoch(1)).toBe(100n);
    expect(await main.getThresholdWeightAtEpoch(1)).toBe(67n); // ceil(2/3 · 100)
  });

  test('behavior: a weight change in the grace period takes effect two epochs later', async () => {
    const block = blockAt(1n, 10n);
    expect(await testbed.main.getEffectiveEpochForBlock(block)).toBe(3);
    await sendInBlock(testbed.mainAnvil, block, () =>
      testbed.registry.updateOperatorWeight({ operator: operator.address, weight: 300n }),
    );
    const weightAt = (epoch: number) =>
      testbed.main.getOperatorWeightAtEpoch({ operator: operator.address, epoch });
    expect(await weightAt(1)).toBe(100n);
    expect(await weightAt(2)).toBe(100n);
    expect(await weightAt(3)).toBe(300n);
    expect(await testbed.main.getTotalWeightAtEpoch(2)).toBe(100n);
    expect(await testbed.main.getTotalWeightAtEpoch(3)).toBe(300n);
    expect(await testbed.main.getThresholdWeightAtEpoch(3)).toBe(200n);
  });

  test('behavior: a key rotation outside the grace period takes effect next epoch', async () => {
    const asOperator = await testbed.registryAs(operator);
    const block = blockAt(3n, 0n);
    await sendInBlock(testbed.mainAnvil, block, () =>
      asOperator.updateOperatorSigningKey({ newSigningKey: keyB }),
    );
    const keyAt = (epoch: number) =>
      testbed.main.getOperatorSigningKeyAtEpoch({ operator: operator.address, epoch });
    expect(await keyAt(3)).toBe(keyA);
    expect(await keyAt(4)).toBe(keyB);
    expect(await testbed.main.getOperatorBySigningKey(keyB)).toBe(operator.address);
    expect(await testbed.main.getOperatorBySigningKey(keyA)).toBeUndefined();
  });

  test('behavior: a key rotation in the grace period takes effect two epochs later', async () => {
    const asOperator = await testbed.registryAs(operator);
    const block = blockAt(4n, 9n); // first grace block
    expect(await testbed.main.getEffectiveEpochForBlock(block)).toBe(6);
    await sendInBlock(testbed.mainAnvil, block, () =>
      asOperator.updateOperatorSigningKey({ newSigningKey: keyC }),
    );
    const keyAt = (epoch: number) =>
      testbed.main.getOperatorSigningKeyAtEpoch({ operator: operator.address, epoch });
    expect(await keyAt(5)).toBe(keyB);
    expect(await keyAt(6)).toBe(keyC);
  });

  test('behavior: the last block before the grace period still takes effect next epoch', async () => {
    const block = blockAt(6n, 8n);
    expect(await testbed.main.getEffectiveEpochForBlock(block)).toBe(7);
    await sendInBlock(testbed.mainAnvil, block, () =>
      testbed.registry.updateOperatorWeight({ operator: operator.address, weight: 50n }),
    );
    expect(
      await testbed.main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 6 }),
    ).toBe(300n);
    expect(
      await testbed.main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 7 }),
    ).toBe(50n);
  });

  test('behavior: deregistration zeroes the weight from the effective epoch on', async () => {
    const block = blockAt(7n, 11n); // last grace block
    await sendInBlock(testbed.mainAnvil, block, () =>
      testbed.registry.deregisterOperator({ operator: operator.address }),
    );
    expect(
      await testbed.main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 8 }),
    ).toBe(50n);
    expect(
      await testbed.main.getOperatorWeightAtEpoch({ operator: operator.address, epoch: 9 }),
    ).toBe(0n);
    expect(await testbed.main.getTotalWeightAtEpoch(9)).toBe(0n);
    const events = await testbed.main.getOperatorEvents({ fromBlock: 0n, toBlock: block });
    expect(events.map((e) => [e.kind, e.operator, e.blockNumber])).toEqual([
      ['registered', operator.address, blockAt(0n, 4n)],
      ['deregistered', operator.address, block],
    ]);
  });

  test('behavior: writes by strangers and to unregistered operators are refused by name', async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    const asStranger = await testbed.registryAs(stranger);
    const notAuthorized = await asStranger
      .registerOperator({ operator: stranger.address, signingKey: stranger.address, weight: 1n })
      .catch((e: unknown) => e);
    expect((notAuthorized as ContractRevertError).errorName).toBe('NotAuthorized');
    const notRegistered = await testbed.registry
      .updateOperatorWeight({ operator: stranger.address, weight: 1n })
      .catch((e: unknown) => e);
    expect((notRegistered as ContractRevertError).errorName).toBe('OperatorNotRegistered');
  });
});
