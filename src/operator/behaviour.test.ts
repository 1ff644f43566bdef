import { type Address, getAddress, type Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createSeededRng } from '../adapters/rng/seeded-rng.ts';
import { computeTaskId } from '../core/task-id.ts';
import { privateKeyNumber } from '../core/test-fixtures.ts';
import type { TaskMessage } from '../wire/task.ts';
import { encodeTaskResponse, type TaskResponseMessage } from '../wire/task-response.ts';
import { type BehaviourContext, createBehaviour, type OperatorBehaviourSpec } from './behaviour.ts';
import { OperatorConfigError } from './errors.ts';

const secp256k1 = createNativeSecp256k1();
const operator = getAddress('0x00000000000000000000000000000000000000a1');
const epochKey = privateKeyNumber(1);
const epochKeyAddress = secp256k1.addressOf(epochKey);

const fields = {
  user: getAddress('0x00000000000000000000000000000000000000d4'),
  chainId: 10,
  blockNumber: 120n,
  timestampSec: 0n,
  epoch: 5,
  key: 7n,
  value: 42n,
};
const task: TaskMessage = {
  taskId: computeTaskId(fields),
  chainId: fields.chainId,
  targetAddress: fields.user,
  key: fields.key,
  blockNumber: fields.blockNumber,
  timestampSec: 0n,
  byTimestamp: false,
  value: fields.value,
  epoch: fields.epoch,
  round: 0,
  respondByMs: 1_000,
  selectedOperators: [operator],
  historyBlockNumber: 118n,
  historyTimestampSec: 1n,
};
const base = { taskId: task.taskId, operator, epoch: 5, round: 0 };
const honestSigned: TaskResponseMessage = {
  ...base,
  kind: 'signed',
  signature: secp256k1.sign(task.taskId, epochKey),
};
const honestRefused: TaskResponseMessage = {
  ...base,
  kind: 'refused',
  reason: 'valueMismatch',
  detail: 'the chain has 41',
  observedValue: 41n,
};

function context(withKey = true): BehaviourContext {
  return {
    task,
    signWithEpochKey: withKey ? (digest: Hex) => secp256k1.sign(digest, epochKey) : undefined,
    secp256k1,
    rng: createSeededRng(5),
  };
}

const plan = (
  spec: OperatorBehaviourSpec,
  honest: TaskResponseMessage = honestSigned,
  withKey = true,
) => createBehaviour(spec).plan(honest, context(withKey));

function signerOf(digest: Hex, response: TaskResponseMessage | undefined): Address {
  if (response === undefined || response.kind !== 'signed') {
    throw new Error(`expected a signature, got ${response?.kind}`);
  }
  return secp256k1.recoverAddress(digest, response.signature);
}

describe('behaviours', () => {
  test('behavior: honest sends the decision as is; silent sends nothing', () => {
    expect(plan({ kind: 'honest' })).toEqual([{ delayMs: 0, response: honestSigned }]);
    expect(plan({ kind: 'honest' }, honestRefused)).toEqual([
      { delayMs: 0, response: honestRefused },
    ]);
    expect(plan({ kind: 'silent' })).toEqual([]);
  });

  test('behavior: slow sends the decision after its delay', () => {
    expect(plan({ kind: 'slow', delayMs: 5_000 })).toEqual([
      { delayMs: 5_000, response: honestSigned },
    ]);
  });

  test('behavior: wrongValue signs, with the epoch key, the task id of another value', () => {
    const [step, ...rest] = plan({ kind: 'wrongValue' });
    expect(rest).toEqual([]);
    expect(step?.response.taskId).toBe(task.taskId);
    const wrongId = computeTaskId({ ...fields, value: 43n });
    expect(signerOf(wrongId, step?.response)).toBe(epochKeyAddress);
    expect(signerOf(task.taskId, step?.response)).not.toBe(epochKeyAddress);
    // Without an epoch key (not active, stale epoch) there is nothing to sign with.
    expect(plan({ kind: 'wrongValue' }, honestRefused, false)).toEqual([
      { delayMs: 0, response: honestRefused },
    ]);
  });

  test('behavior: badSignature signs the task id with a key that is not the epoch key', () => {
    for (const honest of [honestSigned, honestRefused]) {
      const [step] = plan({ kind: 'badSignature' }, honest);
      const signer = signerOf(task.taskId, step?.response);
      expect(signer).not.toBe(epochKeyAddress);
      expect(step?.response.kind === 'signed' && step.response.signature).toMatch(/(1b|1c)$/);
    }
  });

  test('behavior: equivocate sends two different answers to the same round', () => {
    const afterSignature = plan({ kind: 'equivocate' });
    expect(afterSignature.map((step) => step.response.kind)).toEqual(['signed', 'refused']);
    const afterRefusal = plan({ kind: 'equivocate' }, honestRefused);
    expect(afterRefusal.map((step) => step.response.kind)).toEqual(['refused', 'signed']);
    expect(signerOf(task.taskId, afterRefusal[1]?.response)).toBe(epochKeyAddress);
    const keyless = plan({ kind: 'equivocate' }, honestRefused, false);
    expect(keyless).toHaveLength(2);
    expect(keyless[0]?.response).not.toEqual(keyless[1]?.response);
    for (const steps of [afterSignature, afterRefusal, keyless]) {
      expect(steps.every((step) => step.response.round === 0 && step.delayMs === 0)).toBe(true);
    }
  });

  test('behavior: flood(count) sends the decision and count encodable bogus responses', () => {
    const steps = plan({ kind: 'flood', count: 3 });
    expect(steps).toHaveLength(4);
    expect(steps[0]?.response).toEqual(honestSigned);
    const bogus = steps.slice(1).map((step) => step.response);
    expect(new Set(bogus.map((response) => response.taskId)).size).toBe(3);
    expect(bogus.some((response) => response.taskId === task.taskId)).toBe(false);
    for (const response of bogus) expect(encodeTaskResponse(response).length).toBeGreaterThan(0);
  });

  test('behavior: parameters are bounded and labelled', () => {
    expect(createBehaviour({ kind: 'slow', delayMs: 3_500 }).label).toBe('slow(3500)');
    expect(createBehaviour({ kind: 'flood', count: 10 }).label).toBe('flood(10)');
    expect(() => createBehaviour({ kind: 'slow', delayMs: -1 })).toThrow(OperatorConfigError);
    expect(() => createBehaviour({ kind: 'flood', count: 0 })).toThrow(/behaviour.count/);
    expect(() => createBehaviour({ kind: 'flood', count: 1_001 })).toThrow(/behaviour.count/);
    expect(() => createBehaviour({ kind: 'lazy' } as unknown as OperatorBehaviourSpec)).toThrow(
      /behaviour.kind: "lazy" is not one of/,
    );
  });
});
