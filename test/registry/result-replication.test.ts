import type { PGlite } from '@electric-sql/pglite';
import type { Address, Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPglite } from '../../src/adapters/store-pglite/open-pglite-store.ts';
import { compareAddresses } from '../../src/core/address.ts';
import { encodeSignatureData } from '../../src/core/signature-set.ts';
import { computeTaskId } from '../../src/core/task-id.ts';
import { createResultReplication } from '../../src/registry/result-replication.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { GossipRuleError } from '../../src/wire/gossip-verdict.ts';
import type { TaskResultMessage } from '../../src/wire/task-result.ts';
import {
  createTestClock,
  createTestLogger,
  newKey,
  openTestStore,
  secp256k1,
  type TestKey,
} from './support.ts';

interface TestOperator {
  operator: Address;
  key: TestKey;
}

const operators: TestOperator[] = [1, 2, 3]
  .map(() => ({ operator: newKey().address, key: newKey() }))
  .sort((a, b) => compareAddresses(a.operator, b.operator));

let pglite: PGlite;
beforeAll(async () => {
  pglite = await createPglite();
});
afterAll(async () => {
  await pglite?.close();
});

/** A registry store at epoch 1: three operators of weight 100, threshold 200. */
async function registryAtEpochOne(clock: ReturnType<typeof createTestClock>) {
  const opened = await openTestStore(clock, pglite);
  const store: RegistryStore = opened.store;
  for (const { operator, key } of operators) {
    await store.operators.upsert({
      address: operator,
      signingKey: key.address,
      registeredAtBlockNumber: 1n,
      registeredAtTimestampSec: 1n,
      activeEpoch: 1,
      status: 'active',
      weightWei: 100n,
    });
  }
  await store.applyEpochAdvance({
    epochState: {
      epoch: 1,
      startBlock: 13n,
      minimumWeightWei: 1n,
      totalWeightWei: 300n,
      thresholdWeightWei: 200n,
    },
    operatorUpdates: [],
    epochOperators: operators.map(({ operator, key }) => ({
      operator,
      weightWei: 100n,
      signingKey: key.address,
    })),
  });
  return opened;
}

/** What another registry publishes after completing a task with `signers`. */
function completedResult(signers: readonly TestOperator[], value = 42n): TaskResultMessage {
  const fields = {
    user: '0x00000000000000000000000000000000000000aa' as Address,
    chainId: 10,
    blockNumber: 100n,
    timestampSec: 1_700_000_000n,
    epoch: 1,
    key: 1n,
    value,
  };
  const taskId = computeTaskId(fields);
  const signatures = signers.map(({ key }) => secp256k1.sign(taskId, key.privateKey));
  const operatorList = signers.map(({ operator }) => operator);
  return {
    taskId,
    chainId: fields.chainId,
    targetAddress: fields.user,
    key: fields.key,
    value: fields.value,
    blockNumber: fields.blockNumber,
    timestampSec: fields.timestampSec,
    epoch: 1,
    status: 'completed',
    operators: operatorList,
    signatures,
    signatureData: encodeSignatureData({
      operators: operatorList,
      signatures,
      referenceEpoch: 1,
    }),
  };
}

describe('result replication', () => {
  test('behavior: a completed result of another registry is checked, stored once, and counts each signer once', async () => {
    const clock = createTestClock();
    const { store, close } = await registryAtEpochOne(clock);
    try {
      const results = createResultReplication(
        { network: {} as never, store, secp256k1, clock, log: createTestLogger() },
        { peers: [] },
      );
      const result = completedResult(operators.slice(0, 2));
      expect(await results.ingest(result)).toBe('stored');
      expect(await results.ingest(result)).toBe('known');
      expect((await store.tasks.get(result.taskId))?.status).toBe('completed');
      const proof = await store.avsResponses.get(result.taskId as Hex);
      expect(proof?.signers.map((signer) => signer.operator)).toEqual(
        operators.slice(0, 2).map(({ operator }) => operator),
      );
      const counts = (await store.operators.list()).map((op) => op.successfulResponseCount);
      expect(counts).toEqual([1, 1, 0]);
    } finally {
      await close();
    }
  });

  test('rejects: a result whose id is not its fields, or whose signatures do not reach the threshold here', async () => {
    const clock = createTestClock();
    const { store, close } = await registryAtEpochOne(clock);
    try {
      const results = createResultReplication(
        { network: {} as never, store, secp256k1, clock, log: createTestLogger() },
        { peers: [] },
      );
      const forged = { ...completedResult(operators.slice(0, 2)), value: 7n };
      await expect(results.ingest(forged)).rejects.toThrow(GossipRuleError);
      const tooLight = completedResult(operators.slice(0, 1), 43n);
      await expect(results.ingest(tooLight)).rejects.toThrow(/below the threshold/);
      expect(await store.tasks.get(tooLight.taskId)).toBeUndefined();
    } finally {
      await close();
    }
  });
});
