import type { PGlite } from '@electric-sql/pglite';
import { keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../../src/adapters/logger/memory-logger.ts';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import {
  createPglite,
  openPgliteOperatorStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import { buildSignatureSet } from '../../src/core/signature-set.ts';
import { computeTaskId } from '../../src/core/task-id.ts';
import { createOperatorNode, type OperatorNode } from '../../src/operator/operator-node.ts';
import { type Network, TOPICS } from '../../src/ports/network.ts';
import { type ProofQuery, taskIdFieldsFor } from '../../src/protocol/task-fields.ts';
import type { OperatorStore } from '../../src/store/operator/operator-store.ts';
import type { EpochStateMessage } from '../../src/wire/epoch.ts';
import type { TaskMessage } from '../../src/wire/task.ts';
import { mineUntil } from '../support/chain-helpers.ts';
import {
  epochStateFromChain,
  type FakeRegistry,
  startFakeRegistry,
  TEST_HEARTBEAT_INTERVAL_MS,
} from './support/fake-registry.ts';
import { waitFor } from './support/wait-for.ts';

/**
 * One operator node, end to end, on real parts: Anvil chains with the Spotted contracts, PGlite,
 * libp2p over the in-memory transport. A minimal fake registry (test/operator/support) drives it:
 * join → epoch state (built from chain reads) adopted → task → signed response, and the chain's
 * own `isValidSignature` accepts that signature once assembled with `buildSignatureSet`.
 */

const EPOCH_LENGTH = 12n;
const STATE_CHAIN = 10;
const WEIGHT = 10n ** 18n;
const KEY = 7n;
const VALUE = 1_000_000_000_000_000_001n;

const secp256k1 = createNativeSecp256k1();
const clock = createSystemClock();
const operatorAccount = privateKeyToAccount(generatePrivateKey());
const signingKey = generatePrivateKey();
const signingAddress = privateKeyToAccount(signingKey).address;
const userAccount = privateKeyToAccount(generatePrivateKey());

let testbed: Testbed;
let pglite: PGlite;
let store: OperatorStore;
let registry: FakeRegistry;
let operatorNetwork: Network;
let node: OperatorNode;
let valueBlock: bigint;
const logger = createMemoryLogger();

async function mineIntoEpoch(epoch: number): Promise<void> {
  await mineUntil(
    testbed.mainAnvil,
    testbed.deployment.genesisBlock + EPOCH_LENGTH * BigInt(epoch),
  );
  expect(await testbed.main.getCurrentEpoch()).toBe(epoch);
}

/** A task as an aggregator builds it: value and epoch read from the chain, id over the query point. */
async function taskFor(query: ProofQuery, value: bigint, epoch: number): Promise<TaskMessage> {
  return {
    taskId: computeTaskId(taskIdFieldsFor(query, epoch, value)),
    chainId: query.chainId,
    targetAddress: query.targetAddress,
    key: query.key,
    blockNumber: query.blockNumber ?? 0n,
    timestampSec: query.timestampSec ?? 0n,
    byTimestamp: query.timestampSec !== undefined,
    value,
    epoch,
    round: 0,
    respondByMs: clock.now() + 3_000,
    selectedOperators: [operatorAccount.address],
    historyBlockNumber: valueBlock,
    historyTimestampSec: 0n,
  };
}

beforeAll(async () => {
  [testbed, pglite] = await Promise.all([
    startTestbed({
      stateChainIds: [STATE_CHAIN],
      epochLengthBlocks: EPOCH_LENGTH,
      gracePeriodBlocks: 3n,
    }),
    createPglite(),
  ]);
  await testbed.registry.registerOperator({
    operator: operatorAccount.address,
    signingKey: signingAddress,
    weight: WEIGHT,
  });
  const stateChain = testbed.stateChains.get(STATE_CHAIN);
  if (stateChain === undefined) throw new Error('no state chain 10');
  await (await stateChain.writerFor(userAccount)).setValue({ key: KEY, value: VALUE });
  valueBlock = await stateChain.chain.getBlockNumber();
  await mineIntoEpoch(1); // the registration takes effect

  store = await openPgliteOperatorStore({ pglite, clock }, { schema: 'operator_e2e' });
  registry = await startFakeRegistry({ mainChain: testbed.main, secp256k1 });
  operatorNetwork = await createLibp2pNetwork({
    transport: 'memory',
    gossip: { heartbeatIntervalMs: TEST_HEARTBEAT_INTERVAL_MS },
  });
  await operatorNetwork.start();
  node = createOperatorNode(
    {
      clock,
      rng: createSeededRng('operator-e2e'),
      network: operatorNetwork,
      chains: testbed.chains,
      store,
      secp256k1,
      log: logger,
    },
    {
      operatorAddress: operatorAccount.address,
      signingPrivateKeys: [signingKey],
      registryBootstrapAddresses: [registry.bootstrapAddress],
    },
  );
});

afterAll(async () => {
  await node?.stop();
  // One at a time: both ends closing at once waits out the memory transport's close timeout.
  await operatorNetwork?.stop();
  await registry?.stop();
  await store?.close();
  await pglite?.close();
  await testbed?.stop();
});

describe('operator node on Anvil, PGlite and libp2p-memory', () => {
  let epochOne: EpochStateMessage;

  test('behavior: joins with a signature the registry checks against the chain, then adopts the synced epoch state', async () => {
    epochOne = await epochStateFromChain(testbed.main, 1, [operatorAccount.address], clock.now());
    registry.latestEpoch = epochOne;
    await node.start();
    await waitFor(() => node.status().health.status === 'ok', 'joined and epoch 1 adopted', 10_000);

    expect(registry.joins).toHaveLength(1);
    expect(registry.joins[0]).toMatchObject({ from: operatorNetwork.peerId, accepted: true });
    expect(node.status().epoch).toMatchObject({
      epoch: 1,
      thresholdWeightWei: epochOne.thresholdWeightWei,
      self: { operator: operatorAccount.address, weightWei: WEIGHT, signingKey: signingAddress },
    });
    expect(await store.localOperator.get()).toMatchObject({
      address: operatorAccount.address,
      status: 'active',
      signingKey: signingAddress,
      weightWei: WEIGHT,
    });
    expect((await store.currentEpochState.get())?.epoch).toBe(1);
  });

  test('behavior: adopts the next epoch from gossip, and a state that disagrees with the chain is not adopted', async () => {
    await mineIntoEpoch(2);
    await waitFor(
      () => registry.network.topicPeers(TOPICS.epoch).includes(operatorNetwork.peerId),
      'the operator subscribed to the epoch topic',
    );
    const honest = await epochStateFromChain(
      testbed.main,
      2,
      [operatorAccount.address],
      clock.now(),
    );
    await registry.publishEpochState({
      ...honest,
      thresholdWeightWei: honest.thresholdWeightWei - 1n,
    });
    await waitFor(
      () => logger.entries.some((entry) => entry.message === 'epoch state refused'),
      'the lying state refused',
    );
    expect(node.status().epoch?.epoch).toBe(1);

    registry.latestEpoch = honest;
    await registry.publishEpochState(honest);
    await waitFor(() => node.status().epoch?.epoch === 2, 'epoch 2 adopted');
    expect(node.status().epoch?.thresholdWeightWei).toBe(honest.thresholdWeightWei);
  });

  test('behavior: signs a task; the signature set passes the registry contract’s isValidSignature', async () => {
    await waitFor(
      () => registry.network.topicPeers(TOPICS.task).includes(operatorNetwork.peerId),
      'the operator subscribed to the task topic',
    );
    const epoch = await testbed.main.getCurrentEpoch();
    const query: ProofQuery = {
      chainId: STATE_CHAIN,
      targetAddress: userAccount.address,
      key: KEY,
      blockNumber: valueBlock,
    };
    const onChain = await testbed.chains.state(STATE_CHAIN).getHistoryAtBlock({
      user: userAccount.address,
      key: KEY,
      blockNumber: valueBlock,
    });
    expect(onChain.value).toBe(VALUE);
    const task = await taskFor(query, onChain.value, epoch);
    await registry.publishTask(task);
    await waitFor(() => registry.responses.length === 1, 'the signed response', 10_000);

    const [{ from, response }] = registry.responses as [(typeof registry.responses)[number]];
    expect(from).toBe(operatorNetwork.peerId);
    if (response.kind !== 'signed') throw new Error(`refused: ${JSON.stringify(response)}`);
    expect(response).toMatchObject({
      taskId: task.taskId,
      operator: operatorAccount.address,
      epoch,
    });

    const state = node.status().epoch;
    if (state === undefined) throw new Error('no epoch');
    const set = buildSignatureSet({
      secp256k1,
      digest: task.taskId,
      referenceEpoch: epoch,
      responses: [{ operator: response.operator, signature: response.signature }],
      epochOperators: state.operators,
      thresholdWeightWei: state.thresholdWeightWei,
    });
    expect(set.rejected).toEqual([]);
    expect(set.reachesThreshold).toBe(true);
    await expect(
      testbed.main.verifySignatureSet({ digest: task.taskId, signatureData: set.signatureData }),
    ).resolves.toBeUndefined();
    // The same signature over any other digest does not pass.
    await expect(
      testbed.main.verifySignatureSet({
        digest: keccak256(toHex('another task')),
        signatureData: set.signatureData,
      }),
    ).rejects.toThrow(/InvalidSignature/);

    expect(await store.taskResponses.get(task.taskId)).toMatchObject({
      outcome: 'signed',
      signature: response.signature,
    });
  });

  test('behavior: a task whose value is not the chain’s is refused with the observed value', async () => {
    const epoch = await testbed.main.getCurrentEpoch();
    const query: ProofQuery = {
      chainId: STATE_CHAIN,
      targetAddress: userAccount.address,
      key: KEY,
      blockNumber: valueBlock,
    };
    const lie = await taskFor(query, VALUE + 1n, epoch);
    await registry.publishTask(lie);
    await waitFor(() => registry.responses.length === 2, 'the refusal', 10_000);
    expect(registry.responses[1]?.response).toMatchObject({
      kind: 'refused',
      taskId: lie.taskId,
      reason: 'valueMismatch',
      observedValue: VALUE,
    });
  });
});
