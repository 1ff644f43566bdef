import fc from 'fast-check';
import { type Address, type Hex, recoverAddress } from 'viem';
import { describe, expect, test } from 'vitest';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { highSTwin } from '../adapters/crypto/secp256k1-compliance.ts';
import { SECP256K1_HALF_N } from '../crypto/signature-encoding.ts';
import type { EpochOperator } from './epoch-state.ts';
import { DuplicateOperatorError } from './errors.ts';
import { buildSignatureSet, decodeSignatureData, type OperatorSignature } from './signature-set.ts';
import { computeTaskId } from './task-id.ts';
import {
  arbitraryAddress,
  arbitraryDigest,
  arbitraryPrivateKey,
  HIGHER_BY_NUMBER,
  LOWER_BY_NUMBER,
  privateKeyNumber,
} from './test-fixtures.ts';

const secp256k1 = createNativeSecp256k1();

const digest = computeTaskId({
  user: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
  chainId: 10,
  blockNumber: 123n,
  timestampSec: 1_700_000_000n,
  epoch: 3,
  key: 1n,
  value: 2n,
});

/** An operator whose signing key is a separate key pair, as in production. */
function signer(operator: Address, keyIndex: number, weightWei: bigint) {
  const privateKey = privateKeyNumber(keyIndex);
  const epochOperator: EpochOperator = {
    operator,
    weightWei,
    signingKey: secp256k1.addressOf(privateKey),
  };
  return {
    epochOperator,
    response: {
      operator,
      signature: secp256k1.sign(digest, privateKey),
    } satisfies OperatorSignature,
  };
}

function withRecoveryBit(signature: Hex): Hex {
  const v = Number.parseInt(signature.slice(-2), 16);
  return `${signature.slice(0, -2)}0${v - 27}` as Hex;
}

describe('ordering', () => {
  test('behavior: ascending by address as a number, not as a string, not by signing key', () => {
    // Signing keys chosen so that ordering by signing key would also be wrong.
    const lower = signer(LOWER_BY_NUMBER, 2, 5n);
    const higher = signer(HIGHER_BY_NUMBER, 1, 5n);
    expect([LOWER_BY_NUMBER, HIGHER_BY_NUMBER].sort()).toEqual([HIGHER_BY_NUMBER, LOWER_BY_NUMBER]);
    expect(BigInt(lower.epochOperator.signingKey) > BigInt(higher.epochOperator.signingKey)).toBe(
      true,
    );

    const set = buildSignatureSet({
      secp256k1,
      digest,
      referenceEpoch: 3,
      responses: [higher.response, lower.response],
      epochOperators: [higher.epochOperator, lower.epochOperator],
      thresholdWeightWei: 10n,
    });
    expect(set.operators).toEqual([LOWER_BY_NUMBER, HIGHER_BY_NUMBER]);
    expect(decodeSignatureData(set.signatureData)).toEqual({
      operators: [LOWER_BY_NUMBER, HIGHER_BY_NUMBER],
      signatures: [lower.response.signature, higher.response.signature],
      referenceEpoch: 3,
    });
    expect(set).toMatchObject({ signedWeightWei: 10n, reachesThreshold: true, rejected: [] });
  });
});

describe('rejections', () => {
  const good = signer(LOWER_BY_NUMBER, 1, 7n);
  const other = signer(HIGHER_BY_NUMBER, 2, 9n);
  const build = (responses: OperatorSignature[], thresholdWeightWei = 1n) =>
    buildSignatureSet({
      secp256k1,
      digest,
      referenceEpoch: 3,
      responses,
      epochOperators: [good.epochOperator, other.epochOperator],
      thresholdWeightWei,
    });

  test('behavior: v = 0/1 is normalised to 27/28', () => {
    const set = build([{ ...good.response, signature: withRecoveryBit(good.response.signature) }]);
    expect(set.signatures).toEqual([good.response.signature]);
    expect(set.rejected).toEqual([]);
  });

  test('behavior: high s, wrong signer and unknown operators are discarded and reported', () => {
    const stranger = '0x7000000000000000000000000000000000000007';
    const set = build([
      { ...good.response, signature: highSTwin(good.response.signature) },
      { operator: other.response.operator, signature: good.response.signature },
      { operator: stranger, signature: good.response.signature },
    ]);
    expect(set.rejected.map(({ operator, reason }) => [operator, reason])).toEqual([
      [good.response.operator, 'malformedSignature'],
      [other.response.operator, 'wrongSigner'],
      [stranger, 'unknownOperator'],
    ]);
    expect(set).toMatchObject({ operators: [], signedWeightWei: 0n, reachesThreshold: false });
  });

  test('behavior: a signature the caller verified is not recovered again; any other still is', () => {
    let recoveries = 0;
    const counting = {
      ...secp256k1,
      recoverAddress: (...args: Parameters<typeof secp256k1.recoverAddress>) => {
        recoveries++;
        return secp256k1.recoverAddress(...args);
      },
    };
    const forged = { operator: other.response.operator, signature: good.response.signature };
    const set = buildSignatureSet({
      secp256k1: counting,
      digest,
      referenceEpoch: 3,
      responses: [good.response, forged],
      epochOperators: [good.epochOperator, other.epochOperator],
      thresholdWeightWei: 1n,
      // The first as verified; the second listed with a different signature than it carries.
      verified: new Map([
        [good.response.operator.toLowerCase(), good.response.signature],
        [other.response.operator.toLowerCase(), other.response.signature],
      ]),
    });
    expect(recoveries).toBe(1);
    expect(set.operators).toEqual([good.response.operator]);
    expect(set.rejected.map(({ reason }) => reason)).toEqual(['wrongSigner']);
  });

  test('behavior: a signature by the operator address instead of its signing key is wrong', () => {
    const operatorKey = privateKeyNumber(99);
    const operator = secp256k1.addressOf(operatorKey);
    const set = buildSignatureSet({
      secp256k1,
      digest,
      referenceEpoch: 3,
      responses: [{ operator, signature: secp256k1.sign(digest, operatorKey) }],
      epochOperators: [
        { operator, weightWei: 1n, signingKey: secp256k1.addressOf(privateKeyNumber(100)) },
      ],
      thresholdWeightWei: 1n,
    });
    expect(set.rejected.map((entry) => entry.reason)).toEqual(['wrongSigner']);
  });

  test('behavior: duplicate operators throw, whatever their letter case', () => {
    const lowercase = {
      ...good.response,
      operator: good.response.operator.toLowerCase() as Address,
    };
    expect(() => build([good.response, lowercase])).toThrow(DuplicateOperatorError);
  });

  test('behavior: an empty set never reaches the threshold, even a threshold of 0', () => {
    expect(build([], 0n).reachesThreshold).toBe(false);
  });
});

describe('properties', () => {
  const arbitraryCommittee = fc
    .uniqueArray(
      fc.record({
        operator: arbitraryAddress,
        privateKey: arbitraryPrivateKey,
        weightWei: fc.bigInt(0n, 2n ** 200n),
        responds: fc.constantFrom('signs', 'signsWithRecoveryBit', 'silent', 'highS', 'wrongKey'),
      }),
      { minLength: 1, maxLength: 10, selector: (member) => member.operator.toLowerCase() },
    )
    .filter((members) => new Set(members.map((m) => m.privateKey)).size === members.length);

  test('property: signatureData decodes to ascending operators with canonical signatures that recover to the signers; weight = sum; threshold exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryCommittee,
        arbitraryDigest,
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        async (members, taskDigest, referenceEpoch) => {
          const epochOperators = members.map((member) => ({
            operator: member.operator,
            weightWei: member.weightWei,
            signingKey: secp256k1.addressOf(member.privateKey),
          }));
          const responses: OperatorSignature[] = [];
          for (const member of members) {
            const signature = secp256k1.sign(taskDigest, member.privateKey);
            if (member.responds === 'signs')
              responses.push({ operator: member.operator, signature });
            if (member.responds === 'signsWithRecoveryBit') {
              responses.push({ operator: member.operator, signature: withRecoveryBit(signature) });
            }
            if (member.responds === 'highS')
              responses.push({ operator: member.operator, signature: highSTwin(signature) });
            if (member.responds === 'wrongKey') {
              responses.push({
                operator: member.operator,
                signature: secp256k1.sign(taskDigest, privateKeyNumber(1)),
              });
            }
          }
          const honest = members.filter(
            (m) => m.responds === 'signs' || m.responds === 'signsWithRecoveryBit',
          );
          const expectedWeight = honest.reduce((sum, m) => sum + m.weightWei, 0n);
          const build = (thresholdWeightWei: bigint) =>
            buildSignatureSet({
              secp256k1,
              digest: taskDigest,
              referenceEpoch,
              responses,
              epochOperators,
              thresholdWeightWei,
            });

          const set = build(expectedWeight);
          const decoded = decodeSignatureData(set.signatureData);
          expect(decoded.referenceEpoch).toBe(referenceEpoch);
          expect(decoded.operators).toHaveLength(honest.length);
          decoded.operators.forEach((operator, index) => {
            const previous = decoded.operators[index - 1];
            if (previous !== undefined) expect(BigInt(previous) < BigInt(operator)).toBe(true);
          });
          for (const [index, signature] of decoded.signatures.entries()) {
            expect(signature).toHaveLength(2 + 130);
            expect([27, 28]).toContain(Number.parseInt(signature.slice(-2), 16));
            expect(BigInt(`0x${signature.slice(66, 130)}`) <= SECP256K1_HALF_N).toBe(true);
            const operator = decoded.operators[index];
            const expectedKey = epochOperators.find(
              (entry) => entry.operator === operator,
            )?.signingKey;
            expect(await recoverAddress({ hash: taskDigest, signature })).toBe(expectedKey);
          }
          expect(set.signedWeightWei).toBe(expectedWeight);
          expect(set.rejected).toHaveLength(
            members.filter((m) => m.responds === 'highS' || m.responds === 'wrongKey').length,
          );
          expect(set.reachesThreshold).toBe(honest.length > 0);
          expect(build(expectedWeight + 1n).reachesThreshold).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });
});
