import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import { type EpochParams, epochForBlock, startBlockForEpoch } from '../../src/core/epoch-math.ts';
import { type Network, TOPICS } from '../../src/ports/network.ts';
import {
  type AdvancedEpoch,
  advanceStoredEpoch,
  createEpochAdvancer,
  type EpochAdvancer,
} from '../../src/registry/epoch-advancer.ts';
import { createJoinService } from '../../src/registry/join-service.ts';
import {
  createOperatorEventWatcher,
  type OperatorEventWatcher,
} from '../../src/registry/operator-event-watcher.ts';
import { createPeerDirectory } from '../../src/registry/peer-directory.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import {
  decodeEpochState,
  type EpochStateMessage,
  MAX_EPOCH_STATE_BYTES,
} from '../../src/wire/epoch.ts';
import { mineUntil, sendInBlock } from '../support/chain-helpers.ts';
import {
  createTestClock,
  createTestLogger,
  newKey,
  openTestStore,
  secp256k1,
  signedJoin,
  waitFor,
} from './support.ts';

const CONFIRMATIONS = 1n;
const POLL_MS = 5;
const clock = createTestClock();
const log = createTestLogger();

let testbed: Testbed;
let params: EpochParams;
let store: RegistryStore;
let closeStore: () => Promise<void>;
let watcher: OperatorEventWatcher;
let advancer: EpochAdvancer;
let registryNetwork: Network;
let listenerNetwork: Network;
/** What the second peer received on `/spotted/epoch/1`. */
const received: EpochStateMessage[] = [];
/** What the advancer reported, in order. */
const advanced: AdvancedEpoch[] = [];

function newAdvancer(): EpochAdvancer {
  const created = createEpochAdvancer(
    { chain: testbed.main, store, network: registryNetwork, clock, log, watcher },
    { pollIntervalMs: POLL_MS },
  );
  created.onEpochAdvanced((epoch) => advanced.push(epoch));
  return created;
}

/** Mines up to the block at which `epoch` can be advanced (unless already past) and waits for it. */
async function reachEpoch(epoch: number): Promise<void> {
  const trigger = startBlockForEpoch(params, epoch) + CONFIRMATIONS - 1n;
  if ((await testbed.main.getBlockNumber()) < trigger) await mineUntil(testbed.mainAnvil, trigger);
  await withTimeout(advancer.waitForEpoch(epoch), `epoch ${epoch} advanced`);
}

async function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const a = newKey(); // operator A's account (it rotates its own key)
const b = newKey();
const keyA = newKey();
const keyA2 = newKey();
const keyB = newKey();
let e0: number;

beforeAll(async () => {
  testbed = await startTestbed({
    manualMining: true,
    epochLengthBlocks: 12n,
    gracePeriodBlocks: 3n,
  });
  params = await testbed.main.getEpochParams();
  ({ store, close: closeStore } = await openTestStore(clock));

  [registryNetwork, listenerNetwork] = (await Promise.all(
    [0, 1].map(() =>
      createLibp2pNetwork({ transport: 'memory', gossip: { heartbeatIntervalMs: 50 } }),
    ),
  )) as [Network, Network];
  await registryNetwork.start();
  await listenerNetwork.start();
  listenerNetwork.subscribe(
    TOPICS.epoch,
    (message) => {
      received.push(decodeEpochState(message.data));
      return 'accept';
    },
    { maxMessageBytes: MAX_EPOCH_STATE_BYTES },
  );
  await listenerNetwork.dial(registryNetwork.listenAddresses()[0] as string);
  await waitFor(
    () => registryNetwork.topicPeers(TOPICS.epoch).includes(listenerNetwork.peerId),
    'the registry sees the listener subscribed to the epoch topic',
  );

  watcher = createOperatorEventWatcher(
    { chain: testbed.main, store, clock, log },
    {
      confirmations: CONFIRMATIONS,
      pollIntervalMs: POLL_MS,
      startBlock: testbed.deployment.genesisBlock,
    },
  );
  // Start at the first block of an epoch that is not the first, so the first advance skips some.
  e0 = epochForBlock(params, await testbed.main.getBlockNumber()) + 1;
  await mineUntil(testbed.mainAnvil, startBlockForEpoch(params, e0));
  await watcher.start();
  advancer = newAdvancer();
  await advancer.start();
});

afterAll(async () => {
  await advancer?.stop();
  await watcher?.stop();
  await listenerNetwork?.stop();
  await registryNetwork?.stop();
  await closeStore?.();
  await testbed?.stop();
});

describe('epoch advancer', () => {
  test('behavior: the first advance goes straight to the current epoch', async () => {
    expect(advancer.currentEpoch()).toBeUndefined();
    await mineUntil(testbed.mainAnvil, (await testbed.main.getBlockNumber()) + 1n);
    await withTimeout(advancer.waitForEpoch(e0), `epoch ${e0}`);
    expect(advancer.currentEpoch()).toBe(e0);
    expect(advanced.map((entry) => entry.epoch)).toEqual([e0]);
    expect(await store.epochStates.getLatest()).toMatchObject({
      epoch: e0,
      startBlock: startBlockForEpoch(params, e0),
      totalWeightWei: 0n,
    });
  });

  test('behavior: waitingActive becomes active at activeEpoch after a join; unjoined stays waitingJoin', async () => {
    const registerAt = startBlockForEpoch(params, e0 + 1) + 1n;
    await sendInBlock(testbed.mainAnvil, registerAt, async () => {
      await testbed.registry.registerOperator({
        operator: a.address,
        signingKey: keyA.address,
        weight: 10n,
      });
      await testbed.registry.registerOperator({
        operator: b.address,
        signingKey: keyB.address,
        weight: 20n,
      });
    });
    await reachEpoch(e0 + 1);
    await testbed.mainAnvil.mine(1);
    await waitFor(
      async () => (await store.operators.get(b.address)) !== undefined,
      'both registrations applied',
    );
    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'waitingJoin',
      activeEpoch: e0 + 2,
      weightWei: 0n,
      signingKey: keyA.address,
    });
    expect(await store.epochOperators.list(e0 + 1)).toEqual([]);

    const join = createJoinService({
      network: registryNetwork,
      store,
      secp256k1,
      clock,
      log,
      peers: createPeerDirectory({ store }),
    });
    const answer = await join.handleJoin(
      'peerA',
      signedJoin({
        operator: a.address,
        peerId: 'peerA',
        signingKey: keyA.privateKey,
        expiresAtMs: clock.now() + 60_000,
      }),
    );
    expect(answer).toMatchObject({ accepted: true, status: 'waitingActive' });

    await reachEpoch(e0 + 2);
    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'active',
      weightWei: 10n,
      signingKey: keyA.address,
    });
    expect(await store.operators.get(b.address)).toMatchObject({
      status: 'waitingJoin',
      weightWei: 20n,
    });
    expect(await store.epochOperators.list(e0 + 2)).toEqual([
      { epoch: e0 + 2, operator: a.address, weightWei: 10n, signingKey: keyA.address },
    ]);
    expect(await store.epochStates.get(e0 + 2)).toMatchObject({
      totalWeightWei: 30n,
      thresholdWeightWei: 20n,
      minimumWeightWei: 0n,
    });
    const step = advanced.find((entry) => entry.epoch === e0 + 2);
    expect(step?.statusChanges).toEqual([
      { operator: a.address, from: 'waitingActive', to: 'active', trigger: 'epochStart' },
    ]);
  });

  test('behavior: a key rotation and a weight change show up at their effective epoch', async () => {
    const changeAt = startBlockForEpoch(params, e0 + 2) + 2n; // effective at e0 + 3
    const asA = await testbed.registryAs(privateKeyToAccount(a.privateKey));
    await sendInBlock(testbed.mainAnvil, changeAt, async () => {
      await asA.updateOperatorSigningKey({ newSigningKey: keyA2.address });
      await testbed.registry.updateOperatorWeight({ operator: a.address, weight: 50n });
    });
    // Still the old values for the rest of this epoch.
    expect(await store.operators.get(a.address)).toMatchObject({
      weightWei: 10n,
      signingKey: keyA.address,
    });
    await reachEpoch(e0 + 3);
    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'active',
      weightWei: 50n,
      signingKey: keyA2.address,
    });
    expect(await store.epochOperators.list(e0 + 3)).toEqual([
      { epoch: e0 + 3, operator: a.address, weightWei: 50n, signingKey: keyA2.address },
    ]);
    expect(await store.epochOperators.list(e0 + 2)).toEqual([
      { epoch: e0 + 2, operator: a.address, weightWei: 10n, signingKey: keyA.address },
    ]);
    expect(await store.epochStates.get(e0 + 3)).toMatchObject({
      totalWeightWei: 70n,
      thresholdWeightWei: 47n,
    });
  });

  test('behavior: every advanced epoch is published on /spotted/epoch/1 to another peer', async () => {
    await waitFor(() => received.length >= advanced.length, 'every epoch state received');
    expect(received.map((state) => state.epoch)).toEqual(advanced.map((entry) => entry.epoch));
    const latest = received.at(-1);
    expect(latest).toMatchObject({
      epoch: e0 + 3,
      startBlock: startBlockForEpoch(params, e0 + 3),
      totalWeightWei: 70n,
      thresholdWeightWei: 47n,
      operators: [{ operator: a.address, weightWei: 50n, signingKey: keyA2.address }],
    });
    expect(latest?.publishedAtMs).toBeGreaterThan(0);
  });

  test('behavior: after downtime the missed epochs are advanced one by one, in order', async () => {
    // A deregisters in e0 + 3 (exit at e0 + 4); the advancer is down until e0 + 6.
    await sendInBlock(testbed.mainAnvil, startBlockForEpoch(params, e0 + 3) + 2n, () =>
      testbed.registry.deregisterOperator({ operator: a.address }),
    );
    await advancer.stop();
    const downAt = advanced.length;
    await mineUntil(testbed.mainAnvil, startBlockForEpoch(params, e0 + 6) + CONFIRMATIONS);
    await waitFor(
      () => (watcher.syncedToBlock() ?? 0n) >= startBlockForEpoch(params, e0 + 6),
      'watcher caught up',
    );

    advancer = newAdvancer();
    // Catching up until it reached the head's epoch (the aggregator refuses requests meanwhile).
    const catchUpSeen: unknown[] = [];
    advancer.onEpochAdvanced(() => catchUpSeen.push(advancer.catchingUp()));
    await advancer.start();
    expect(advancer.currentEpoch()).toBe(e0 + 3);
    expect(advancer.catchingUp()).toMatchObject({ advancedEpoch: e0 + 3 });
    await withTimeout(advancer.waitForEpoch(e0 + 6), `epoch ${e0 + 6}`);
    expect(catchUpSeen).toEqual([
      { advancedEpoch: e0 + 4, chainEpoch: e0 + 6 },
      { advancedEpoch: e0 + 5, chainEpoch: e0 + 6 },
      undefined,
    ]);

    expect(advanced.slice(downAt).map((entry) => [entry.epoch, entry.applied])).toEqual([
      [e0 + 4, true],
      [e0 + 5, true],
      [e0 + 6, true],
    ]);
    const states = await store.epochStates.list({ fromEpoch: e0 + 4, limit: 10 });
    expect(states.map((state) => state.epoch)).toEqual([e0 + 4, e0 + 5, e0 + 6]);
    // Stored in order: each one's bookkeeping time is no earlier than the previous one's.
    const times = states.map((state) => state.updatedAtMs);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    expect(advanced.find((entry) => entry.epoch === e0 + 4)?.statusChanges).toEqual([
      { operator: a.address, from: 'active', to: 'unactive', trigger: 'epochStart' },
    ]);
    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'unactive',
      exitEpoch: e0 + 4,
    });
    expect(await store.epochOperators.list(e0 + 4)).toEqual([]);
    expect(await store.epochStates.get(e0 + 4)).toMatchObject({ totalWeightWei: 20n });
    await waitFor(() => received.length >= advanced.length, 'catch-up epochs received');
    expect(received.map((state) => state.epoch).slice(downAt)).toEqual([e0 + 4, e0 + 5, e0 + 6]);
  });

  test('behavior: advancing is idempotent: the same epoch again, or a restart, writes nothing', async () => {
    const operatorsBefore = await store.operators.list();
    const stateBefore = await store.epochStates.get(e0 + 6);
    const again = await advanceStoredEpoch({ chain: testbed.main, store, log }, params, e0 + 6);
    expect(again).toMatchObject({ applied: false, statusChanges: [] });
    expect(again.epochState).toMatchObject({ epoch: e0 + 6, totalWeightWei: 20n });
    expect(await store.epochStates.get(e0 + 6)).toEqual(stateBefore);
    expect(await store.operators.list()).toEqual(operatorsBefore);

    // A restarted advancer at the same head finds nothing to do.
    const count = advanced.length;
    await advancer.stop();
    advancer = newAdvancer();
    await advancer.start();
    await testbed.mainAnvil.mine(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(advanced.length).toBe(count);
    expect(await store.epochStates.get(e0 + 6)).toEqual(stateBefore);
    expect(await store.operators.list()).toEqual(operatorsBefore);
  });

  test('behavior: an epoch waits for the event watcher to pass its start block', async () => {
    await watcher.stop();
    const epoch = e0 + 7;
    await mineUntil(testbed.mainAnvil, startBlockForEpoch(params, epoch) + 3n);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(advancer.currentEpoch()).toBe(e0 + 6);

    watcher = createOperatorEventWatcher(
      { chain: testbed.main, store, clock, log },
      {
        confirmations: CONFIRMATIONS,
        pollIntervalMs: POLL_MS,
        startBlock: testbed.deployment.genesisBlock,
      },
    );
    // The advancer was created with the old watcher: a new advancer follows the new one.
    await advancer.stop();
    advancer = newAdvancer();
    await watcher.start();
    await advancer.start();
    await withTimeout(advancer.waitForEpoch(epoch), `epoch ${epoch}`);
    expect(advancer.currentEpoch()).toBe(epoch);
  });
});
