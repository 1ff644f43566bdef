import { type Address, type Hex, keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { type ContractErrorName, ContractRevertError } from '../../src/chain/errors.ts';
import {
  encodeSignatureData,
  mineUntil,
  signDigest,
  sortByAddressNumber,
} from '../support/chain-helpers.ts';

const EPOCH = 12n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const E18 = 10n ** 18n;

interface TestOperator {
  operatorKey: Hex;
  operator: Address;
  signingKey: Hex;
  weight: bigint;
}

let testbed: Testbed;
/** Ascending by address; weights sum to 3e18, so the automatic threshold is exactly 2e18. */
let ops: TestOperator[];
let rotated: { operator: TestOperator; oldKey: Hex; newKey: Hex; fromEpoch: number };
const digest = keccak256(toHex('spotted task'));

async function signSet(
  members: readonly TestOperator[],
  epoch: number,
  keyOf = (o: TestOperator) => o.signingKey,
) {
  const signatures = await Promise.all(members.map((m) => signDigest(keyOf(m), digest)));
  return encodeSignatureData(
    members.map((m) => m.operator),
    signatures,
    epoch,
  );
}

async function revertReason(signatureData: Hex): Promise<ContractErrorName | 'valid'> {
  try {
    await testbed.main.verifySignatureSet({ digest, signatureData });
    return 'valid';
  } catch (error) {
    if (error instanceof ContractRevertError) return error.errorName;
    throw error;
  }
}

beforeAll(async () => {
  testbed = await startTestbed({ epochLengthBlocks: EPOCH, gracePeriodBlocks: 3n });
  const weights = [E18, E18, E18 - 1n, 1n];
  ops = sortByAddressNumber(
    weights.map((weight) => {
      const operatorKey = generatePrivateKey();
      return {
        operatorKey,
        operator: privateKeyToAccount(operatorKey).address,
        signingKey: generatePrivateKey(),
        weight,
      };
    }),
  );
  for (const op of ops) {
    await testbed.registry.registerOperator({
      operator: op.operator,
      signingKey: privateKeyToAccount(op.signingKey).address,
      weight: op.weight,
    });
  }
  const genesis = testbed.deployment.genesisBlock;
  // Into epoch 1 (registrations effective), rotate one key, then into the epoch it takes effect.
  await mineUntil(testbed.mainAnvil, genesis + EPOCH);
  const target = ops.find((o) => o.weight === E18);
  if (!target) throw new Error('unreachable');
  const newKey = generatePrivateKey();
  const asOperator = await testbed.registryAs(privateKeyToAccount(target.operatorKey));
  await asOperator.updateOperatorSigningKey({ newSigningKey: privateKeyToAccount(newKey).address });
  const fromEpoch = await testbed.main.getEffectiveEpochForBlock(
    await testbed.main.getBlockNumber(),
  );
  rotated = { operator: target, oldKey: target.signingKey, newKey, fromEpoch };
  await mineUntil(testbed.mainAnvil, genesis + EPOCH * BigInt(fromEpoch));
});

afterAll(async () => {
  await testbed?.stop();
});

describe('isValidSignature', () => {
  const byWeight = (...weights: bigint[]) => {
    const picked: TestOperator[] = [];
    for (const w of weights) {
      const op = ops.find((o) => o.weight === w && !picked.includes(o));
      if (!op) throw new Error(`no operator of weight ${w}`);
      picked.push(op);
    }
    return sortByAddressNumber(picked);
  };

  test('behavior: accepts a set at exactly the threshold', async () => {
    expect(await testbed.main.getThresholdWeightAtEpoch(1)).toBe(2n * E18);
    expect(await revertReason(await signSet(byWeight(E18, E18 - 1n, 1n), 1))).toBe('valid');
    expect(await revertReason(await signSet(byWeight(E18, E18), 1))).toBe('valid');
    expect(await revertReason(await signSet(ops, 1))).toBe('valid');
  });

  test('behavior: one wei below the threshold is InsufficientSignedStake', async () => {
    expect(await revertReason(await signSet(byWeight(E18, E18 - 1n), 1))).toBe(
      'InsufficientSignedStake',
    );
  });

  test('behavior: unsorted operators are NotSorted', async () => {
    const [a, b, c] = byWeight(E18, E18, 1n) as [TestOperator, TestOperator, TestOperator];
    expect(await revertReason(await signSet([b, a, c], 1))).toBe('NotSorted');
  });

  test('behavior: a duplicate operator is NotSorted', async () => {
    const [a, b] = byWeight(E18, E18) as [TestOperator, TestOperator];
    const sorted = sortByAddressNumber([a, a, b]);
    expect(await revertReason(await signSet(sorted, 1))).toBe('NotSorted');
  });

  test('behavior: a reference epoch in the future is InvalidEpoch', async () => {
    const current = await testbed.main.getCurrentEpoch();
    expect(await revertReason(await signSet(ops, current + 1))).toBe('InvalidEpoch');
  });

  test('behavior: a rotated-out key is InvalidSignature after the rotation, valid before it', async () => {
    const { operator, oldKey, newKey, fromEpoch } = rotated;
    const others = ops.filter((o) => o !== operator);
    const withKey = (key: Hex) => (o: TestOperator) => (o === operator ? key : o.signingKey);
    expect(await revertReason(await signSet(ops, fromEpoch, withKey(oldKey)))).toBe(
      'InvalidSignature',
    );
    expect(await revertReason(await signSet(ops, fromEpoch, withKey(newKey)))).toBe('valid');
    expect(await revertReason(await signSet(ops, fromEpoch - 1, withKey(oldKey)))).toBe('valid');
    expect(await revertReason(await signSet(ops, fromEpoch - 1, withKey(newKey)))).toBe(
      'InvalidSignature',
    );
    expect(others.length).toBe(3);
  });

  test('behavior: v = 0 or 1 is InvalidSignature', async () => {
    const members = byWeight(E18, E18);
    const signatures = await Promise.all(members.map((m) => signDigest(m.signingKey, digest)));
    const lowV = signatures.map(
      (s) => `${s.slice(0, 130)}${s.endsWith('1b') ? '00' : '01'}` as Hex,
    );
    const data = encodeSignatureData(
      members.map((m) => m.operator),
      lowV,
      1,
    );
    expect(await revertReason(data)).toBe('InvalidSignature');
  });

  test('behavior: a high-s (malleable) signature is InvalidSignature', async () => {
    const members = byWeight(E18, E18);
    const signatures = await Promise.all(members.map((m) => signDigest(m.signingKey, digest)));
    // (r, n - s, v ^ 1) recovers the same key through ecrecover but is the malleable twin.
    const malleable = signatures.map((sig) => {
      const r = sig.slice(2, 66);
      const s = BigInt(`0x${sig.slice(66, 130)}`);
      const v = sig.endsWith('1b') ? '1c' : '1b';
      return `0x${r}${(SECP256K1_N - s).toString(16).padStart(64, '0')}${v}` as Hex;
    });
    const data = encodeSignatureData(
      members.map((m) => m.operator),
      malleable,
      1,
    );
    expect(await revertReason(data)).toBe('InvalidSignature');
  });

  test('behavior: operators and signatures of different lengths are LengthMismatch', async () => {
    const members = byWeight(E18, E18);
    const signatures = await Promise.all(members.map((m) => signDigest(m.signingKey, digest)));
    const data = encodeSignatureData(
      members.map((m) => m.operator),
      signatures.slice(0, 1),
      1,
    );
    expect(await revertReason(data)).toBe('LengthMismatch');
  });

  test('behavior: an empty set is InvalidLength', async () => {
    expect(await revertReason(encodeSignatureData([], [], 1))).toBe('InvalidLength');
  });

  test('behavior: a signature by another operator key is InvalidSignature', async () => {
    const [a, b] = byWeight(E18, E18) as [TestOperator, TestOperator];
    const data = await signSet([a, b], 1, () => a.signingKey);
    expect(await revertReason(data)).toBe('InvalidSignature');
  });
});
