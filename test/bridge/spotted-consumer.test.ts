import { type Hex, parseEventLogs } from 'viem';
import { generatePrivateKey } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spottedConsumerAbi } from '../../contracts-abi/SpottedConsumer.ts';
import type { ConsumerChain, ConsumerSubmission } from '../../src/aggregator/delivery-ports.ts';
import { ContractRevertError } from '../../src/chain/errors.ts';
import { computeTaskId } from '../../src/core/task-id.ts';
import { encodeSignatureData, signDigest } from '../support/chain-helpers.ts';
import {
  type ConsumerTestbed,
  startConsumerTestbed,
  type TestOperator,
} from './support/consumer-testbed.ts';

/**
 * SpottedConsumer on Anvil: a value is stored only with a signature set the registry accepts
 * (recomputing the task id from the proven fields), and a task id only once. Also the viem
 * adapter the aggregator submits through.
 */
let bed: ConsumerTestbed;
let consumer: ConsumerChain;
const E18 = 10n ** 18n;

beforeAll(async () => {
  // Total 3e18: the automatic threshold is 2e18.
  bed = await startConsumerTestbed([E18, E18, E18]);
  consumer = bed.consumerChain();
}, 60_000);

afterAll(async () => {
  await bed?.stop();
});

let nextKey = 1n;
/** A fresh proven value (new key, so a new task id) and its task id. */
function provenValue(overrides: Partial<ConsumerSubmission> = {}) {
  const fields = {
    user: bed.operators[0]?.operator ?? '0x0000000000000000000000000000000000000001',
    chainId: 10,
    blockNumber: 1_234n,
    timestampSec: 0n,
    epoch: 1,
    key: nextKey++,
    value: 10n ** 18n + 1n,
    ...overrides,
  };
  const taskId = computeTaskId({ ...fields, timestampSec: fields.timestampSec });
  return { fields, taskId };
}

async function signatureData(
  taskId: Hex,
  signers: readonly TestOperator[],
  keyOf = (o: TestOperator) => o.signingKey,
) {
  const signatures = await Promise.all(signers.map((o) => signDigest(keyOf(o), taskId)));
  return encodeSignatureData(
    signers.map((o) => o.operator),
    signatures,
    1,
  );
}

async function submitAndMine(submission: ConsumerSubmission) {
  const signed = await consumer.prepareSubmission(submission);
  expect(await consumer.sendTransaction(signed.raw)).toBe('sent');
  // Anvil automines, but the receipt can lag the send on a loaded machine.
  await bed.testbed.mainAnvil.publicClient.waitForTransactionReceipt({
    hash: signed.hash,
    pollingInterval: 20,
    timeout: 20_000,
  });
  return signed;
}

async function revertOf(submission: ConsumerSubmission): Promise<string> {
  try {
    await consumer.prepareSubmission(submission);
    return 'accepted';
  } catch (error) {
    if (error instanceof ContractRevertError) return error.errorName;
    throw error;
  }
}

describe('SpottedConsumer', () => {
  test('behavior: accepts a value signed by threshold weight and stores it once', async () => {
    const { fields, taskId } = provenValue();
    const signers = bed.operators.slice(0, 2);
    expect(await consumer.isStored(taskId)).toBe(false);
    const signed = await submitAndMine({
      ...fields,
      signatureData: await signatureData(taskId, signers),
    });
    expect(await consumer.transactionStatus(signed.hash)).toBe('success');
    expect(await consumer.isStored(taskId)).toBe(true);
    const client = bed.testbed.mainAnvil.publicClient;
    const stored = await client.readContract({
      address: bed.consumer,
      abi: spottedConsumerAbi,
      functionName: 'getStoredValue',
      args: [taskId],
    });
    expect(stored).toMatchObject({
      user: fields.user,
      chainId: 10,
      blockNumber: 1_234n,
      epoch: 1,
      key: fields.key,
      value: fields.value,
      submitter: bed.submitter,
    });
    const receipt = await client.getTransactionReceipt({ hash: signed.hash });
    const [event] = parseEventLogs({ abi: spottedConsumerAbi, logs: receipt.logs });
    expect(event).toMatchObject({ eventName: 'ValueAccepted', args: { taskId, key: fields.key } });
  });

  test('behavior: rejects a bad signature set with the registry’s reason', async () => {
    const { fields, taskId } = provenValue();
    // One signer signs with a key that is not its registered one.
    const wrongKey = generatePrivateKey();
    const forged = await signatureData(taskId, bed.operators.slice(0, 2), (o) =>
      o === bed.operators[1] ? wrongKey : o.signingKey,
    );
    expect(await revertOf({ ...fields, signatureData: forged })).toBe('InvalidSignature');
    // Below the threshold.
    const one = await signatureData(taskId, bed.operators.slice(0, 1));
    expect(await revertOf({ ...fields, signatureData: one })).toBe('InsufficientSignedStake');
    // Signatures over this task do not cover another value: the recomputed task id differs.
    const valid = await signatureData(taskId, bed.operators.slice(0, 2));
    expect(await revertOf({ ...fields, value: fields.value + 1n, signatureData: valid })).toBe(
      'InvalidSignature',
    );
    expect(await consumer.isStored(taskId)).toBe(false);
  });

  test('behavior: rejects a task id it already stored with TaskAlreadyStored', async () => {
    const { fields, taskId } = provenValue({ timestampSec: 1_700_000_000n, blockNumber: 0n });
    const submission = {
      ...fields,
      signatureData: await signatureData(taskId, bed.operators),
    };
    await submitAndMine(submission);
    expect(await revertOf(submission)).toBe('TaskAlreadyStored');
    // A different signature set for the same task id is refused just the same.
    const other = { ...fields, signatureData: await signatureData(taskId, bed.operators.slice(1)) };
    expect(await revertOf(other)).toBe('TaskAlreadyStored');
  });

  test('behavior: the adapter re-sends a signed transaction harmlessly and reports unknown and used nonces', async () => {
    const { fields, taskId } = provenValue();
    const signed = await consumer.prepareSubmission({
      ...fields,
      signatureData: await signatureData(taskId, bed.operators),
    });
    expect(await consumer.transactionStatus(signed.hash)).toBe('unknown');
    const nonceBefore = await bed.submitterNonce();
    expect(await consumer.sendTransaction(signed.raw)).toBe('sent');
    // Mined (automine): its nonce is used now, so the same bytes cannot land twice.
    expect(await consumer.sendTransaction(signed.raw)).toBe('nonceUsed');
    expect(await bed.submitterNonce()).toBe(nonceBefore + 1);
    expect(await consumer.transactionStatus(signed.hash)).toBe('success');
  });
});
