import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { type EpochParams, epochForBlock, startBlockForEpoch } from '../../src/core/epoch-math.ts';
import {
  createOperatorEventWatcher,
  OPERATOR_EVENTS_STREAM,
  type OperatorEventWatcher,
} from '../../src/registry/operator-event-watcher.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { mineUntil, sendInBlock } from '../support/chain-helpers.ts';
import {
  createTestClock,
  createTestLogger,
  newKey,
  openTestStore,
  type TestKey,
  waitFor,
} from './support.ts';

const CONFIRMATIONS = 2n;
const clock = createTestClock();
const log = createTestLogger();

let testbed: Testbed;
let params: EpochParams;
let store: RegistryStore;
let closeStore: () => Promise<void>;
let watcher: OperatorEventWatcher;
const unbound: Address[] = [];

function newWatcher(options: { maxRangeBlocks?: bigint } = {}): OperatorEventWatcher {
  return createOperatorEventWatcher(
    {
      chain: testbed.main,
      store,
      clock,
      log,
      peers: { unbind: (operator) => unbound.push(operator) },
    },
    {
      confirmations: CONFIRMATIONS,
      pollIntervalMs: 5,
      startBlock: testbed.deployment.genesisBlock,
      ...options,
    },
  );
}

async function head(): Promise<bigint> {
  return testbed.main.getBlockNumber();
}

/** Waits until the watcher has applied everything `CONFIRMATIONS` below the head. */
async function waitSynced(w: OperatorEventWatcher = watcher): Promise<void> {
  const target = (await head()) - CONFIRMATIONS;
  await waitFor(() => (w.syncedToBlock() ?? -1n) >= target, `watcher synced to ${target}`);
}

/** The first block of the next epoch after the head, plus `offset`. */
async function blockInNextEpoch(offset: bigint): Promise<bigint> {
  return startBlockForEpoch(params, epochForBlock(params, await head()) + 1) + offset;
}

async function register(operator: Address, signingKey: Address, block: bigint): Promise<void> {
  await sendInBlock(testbed.mainAnvil, block, () =>
    testbed.registry.registerOperator({ operator, signingKey, weight: 10n }),
  );
}

async function deregister(operator: Address, block: bigint): Promise<void> {
  await sendInBlock(testbed.mainAnvil, block, () =>
    testbed.registry.deregisterOperator({ operator }),
  );
}

async function chainEventsFromStart(toBlock: bigint) {
  return testbed.main.getOperatorEvents({ fromBlock: testbed.deployment.genesisBlock, toBlock });
}

async function storedChainEvents() {
  const events = await store.registryEvents.list({ limit: 1000 });
  return events.filter((event) => event.chainLog !== null);
}

beforeAll(async () => {
  testbed = await startTestbed({
    manualMining: true,
    epochLengthBlocks: 12n,
    gracePeriodBlocks: 3n,
  });
  params = await testbed.main.getEpochParams();
  ({ store, close: closeStore } = await openTestStore(clock));
  watcher = newWatcher();
  await watcher.start();
});

afterAll(async () => {
  await watcher?.stop();
  await closeStore?.();
  await testbed?.stop();
});

describe('operator event watcher', () => {
  const a = newKey();
  const b = newKey();
  let epochA: number;

  test('behavior: a registration becomes a waitingJoin row only once it is `confirmations` deep', async () => {
    const block = await blockInNextEpoch(2n); // outside the grace period
    epochA = epochForBlock(params, block);
    await register(a.address, a.address, block);
    await waitSynced();
    expect(watcher.syncedToBlock()).toBe(block - CONFIRMATIONS);
    expect(await store.operators.get(a.address)).toBeUndefined();

    await testbed.mainAnvil.mine(1);
    await waitSynced();
    expect(await store.operators.get(a.address)).toBeUndefined();

    await testbed.mainAnvil.mine(1);
    await waitSynced();
    expect(watcher.syncedToBlock()).toBe(block);
    expect(await store.operators.get(a.address)).toMatchObject({
      address: a.address,
      signingKey: a.address,
      status: 'waitingJoin',
      activeEpoch: epochA + 1,
      exitEpoch: null,
      weightWei: 0n,
      registeredAtBlockNumber: block,
      peerId: null,
    });
    expect(watcher.health()).toMatchObject({
      status: 'ok',
      caughtUp: true,
      reorgBeyondDepth: null,
    });
  });

  test('behavior: a registration in the grace period is active two epochs later', async () => {
    const block = startBlockForEpoch(params, epochA) + 10n; // last 3 blocks of the epoch
    await register(b.address, b.address, block);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    await waitSynced();
    expect(await store.operators.get(b.address)).toMatchObject({
      status: 'waitingJoin',
      activeEpoch: epochA + 2,
      signingKey: b.address,
    });
  });

  test('behavior: a deregistration sets exitEpoch: next epoch, or the one after in the grace period', async () => {
    const epoch = epochA + 1;
    await deregister(a.address, startBlockForEpoch(params, epoch) + 3n);
    await deregister(b.address, startBlockForEpoch(params, epoch) + 9n);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    await waitSynced();
    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'waitingJoin',
      exitEpoch: epoch + 1,
    });
    expect(await store.operators.get(b.address)).toMatchObject({ exitEpoch: epoch + 2 });
    const types = (await storedChainEvents()).map((event) => [
      event.eventType,
      event.operatorAddress,
      event.data,
    ]);
    expect(types).toEqual([
      ['operatorRegistered', a.address, expect.objectContaining({ effect: 'registered' })],
      ['operatorRegistered', b.address, expect.objectContaining({ effect: 'registered' })],
      ['operatorDeregistered', a.address, { effect: 'deregistered', exitEpoch: epoch + 1 }],
      ['operatorDeregistered', b.address, { effect: 'deregistered', exitEpoch: epoch + 2 }],
    ]);
  });

  test('behavior: re-registration is a fresh registration; counters and a suspension carry over', async () => {
    // A had joined and missed twice; B was suspended. Both exit, then register again.
    await store.operators.update(a.address, { peerId: 'peerOfA', missing: 2 });
    await store.operators.update(b.address, { status: 'suspended' });
    const newKeyA = newKey();
    const newKeyB = newKey();
    await mineUntil(testbed.mainAnvil, await blockInNextEpoch(0n));
    const block = (await head()) + 1n;
    const epoch = epochForBlock(params, block);
    await register(a.address, newKeyA.address, block);
    await register(b.address, newKeyB.address, block + 1n);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    await waitSynced();

    expect(await store.operators.get(a.address)).toMatchObject({
      status: 'waitingJoin',
      activeEpoch: epoch + 1,
      exitEpoch: null,
      signingKey: newKeyA.address,
      weightWei: 0n,
      missing: 2,
      peerId: null,
      registeredAtBlockNumber: block,
    });
    expect(unbound).toEqual([a.address]);
    expect(await store.operators.get(b.address)).toMatchObject({
      status: 'suspended',
      statusBeforeSuspension: 'waitingJoin',
      activeEpoch: epoch + 1,
      exitEpoch: null,
      signingKey: newKeyB.address,
    });
    const reregistrations = (await storedChainEvents()).filter(
      (event) =>
        (event.data as { effect?: string }).effect === 'reregistered' &&
        event.eventType === 'operatorRegistered',
    );
    expect(reregistrations.map((event) => event.operatorAddress)).toEqual([a.address, b.address]);
  });

  test('behavior: a shallow reorg is never seen', async () => {
    const lost = newKey();
    await testbed.registry.registerOperator({
      operator: lost.address,
      signingKey: lost.address,
      weight: 10n,
    });
    await testbed.mainAnvil.mine(1);
    const lostBlock = await head();
    const lostHash = (await testbed.main.getBlock(lostBlock)).hash;
    await testbed.mainAnvil.reorg(1); // replaces the head block before it is confirmed
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS) + 1);
    await waitSynced();
    const synced = watcher.syncedToBlock() ?? 0n;
    const stored = await storedChainEvents();
    const canonical = await chainEventsFromStart(synced);
    expect(stored.map((event) => event.chainLog)).toEqual(
      canonical.map(({ blockNumber, blockHash, logIndex, transactionHash }) => ({
        blockNumber,
        blockHash,
        logIndex,
        transactionHash,
      })),
    );
    expect(stored.every((event) => event.chainLog?.blockHash !== lostHash)).toBe(true);
    expect(watcher.health().status).toBe('ok');
  });

  test('behavior: a new watcher over the same store resumes from the cursor, no event twice or missed', async () => {
    await watcher.stop();
    const before = await storedChainEvents();
    const cursor = await store.cursors.get(testbed.main.chainId, OPERATOR_EVENTS_STREAM);
    expect(cursor?.blockNumber).toBe(watcher.syncedToBlock());

    // While it is down: two registrations and a deregistration, over more than one range.
    const c: TestKey = newKey();
    const d: TestKey = newKey();
    await register(c.address, c.address, (await head()) + 3n);
    await register(d.address, d.address, (await head()) + 7n);
    await deregister(c.address, (await head()) + 4n);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));

    watcher = newWatcher({ maxRangeBlocks: 4n });
    expect(watcher.syncedToBlock()).toBeUndefined();
    await watcher.start();
    expect(watcher.syncedToBlock()).toBe(cursor?.blockNumber);
    await waitSynced();

    const after = await storedChainEvents();
    const synced = watcher.syncedToBlock() ?? 0n;
    const canonical = await chainEventsFromStart(synced);
    const positions = (events: typeof after) =>
      events.map((event) => `${event.chainLog?.blockHash}:${event.chainLog?.logIndex}`);
    expect(positions(after)).toEqual(
      canonical.map((event) => `${event.blockHash}:${event.logIndex}`),
    );
    expect(new Set(positions(after)).size).toBe(after.length);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBe(before.length + 3);
    expect(await store.operators.get(c.address)).toMatchObject({ exitEpoch: expect.any(Number) });
    expect(await store.operators.get(d.address)).toMatchObject({ status: 'waitingJoin' });
  });

  test('behavior: a batch that fails to commit leaves nothing behind and is applied once later', async () => {
    await watcher.stop();
    let failures = 1;
    // The cursor write fails once, after the batch's events have been written in the transaction.
    const flaky: RegistryStore = {
      ...store,
      transaction: (work) =>
        store.transaction((tx) =>
          work({
            ...tx,
            cursors: {
              ...tx.cursors,
              set: async (...args) => {
                if (failures > 0) {
                  failures -= 1;
                  throw new Error('disk full');
                }
                return tx.cursors.set(...args);
              },
            },
          }),
        ),
    };
    const e = newKey();
    await register(e.address, e.address, (await head()) + 1n);
    await testbed.mainAnvil.mine(Number(CONFIRMATIONS));
    const before = (await storedChainEvents()).length;
    watcher = createOperatorEventWatcher(
      { chain: testbed.main, store: flaky, clock, log },
      {
        confirmations: CONFIRMATIONS,
        pollIntervalMs: 5,
        startBlock: testbed.deployment.genesisBlock,
      },
    );
    await watcher.start();
    await waitSynced();
    expect(failures).toBe(0);
    expect(log.entries).toContainEqual(
      expect.objectContaining({
        message: 'operator event poll failed',
        data: expect.objectContaining({ error: 'disk full' }),
      }),
    );
    expect(watcher.health()).toMatchObject({ status: 'ok', lastError: null });
    const after = await storedChainEvents();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)?.operatorAddress).toBe(e.address);
    expect(await store.operators.get(e.address)).toMatchObject({ status: 'waitingJoin' });
  });

  test('behavior: a reorg deeper than the depth is reported in health, without crashing', async () => {
    await waitSynced();
    const cursorBlock = watcher.syncedToBlock();
    const errorsBefore = log.entries.filter((entry) => entry.level === 'error').length;
    await testbed.mainAnvil.reorg(Number(CONFIRMATIONS) + 2);
    await waitFor(() => watcher.health().status === 'degraded', 'health degraded');
    const health = watcher.health();
    expect(health.reorgBeyondDepth?.blockNumber).toBe(cursorBlock);
    expect(health.reorgBeyondDepth?.message).toContain(
      'a reorg deeper than the confirmation depth',
    );
    expect(health.syncedToBlock).toBe(cursorBlock);
    // Still polling: the failure stays reported, logged as an error once.
    await testbed.mainAnvil.mine(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(watcher.health().status).toBe('degraded');
    const errors = log.entries.filter((entry) => entry.level === 'error').slice(errorsBefore);
    expect(errors.map((entry) => entry.message)).toEqual([
      'reorg deeper than the confirmation depth: event watching is halted',
    ]);
    await watcher.stop();
  });
});
