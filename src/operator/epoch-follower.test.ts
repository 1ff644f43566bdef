import { type Address, getAddress } from 'viem';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createFakeMainChain,
  type FakeMainChain,
} from '../../test/operator/support/fake-chains.ts';
import { createFakeNetwork, type FakeNetwork } from '../../test/operator/support/fake-network.ts';
import { createManualClock, type ManualClock } from '../../test/operator/support/manual-clock.ts';
import { operatorStoreFixture } from '../../test/operator/support/operator-store.ts';
import { countStoreCalls } from '../../test/operator/support/store-calls.ts';
import { waitFor } from '../../test/operator/support/wait-for.ts';
import { createMemoryLogger, type LogEntry } from '../adapters/logger/memory-logger.ts';
import { createSeededRng } from '../adapters/rng/seeded-rng.ts';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import { type EpochStateMessage, encodeEpochState } from '../wire/epoch.ts';
import { decodeSyncRequest, encodeSyncResponse } from '../wire/sync.ts';
import {
  createEpochFollower,
  DEFAULT_EPOCH_FOLLOWER_OPTIONS,
  type EpochFollower,
} from './epoch-follower.ts';

const operator: Address = getAddress('0x00000000000000000000000000000000000000a1');
const other: Address = getAddress('0x00000000000000000000000000000000000000b2');
const operatorKey: Address = getAddress('0x00000000000000000000000000000000000000c1');
const otherKey: Address = getAddress('0x00000000000000000000000000000000000000c2');
const REGISTRY = 'RegistryPeer1';

const stores = operatorStoreFixture();
afterAll(() => stores.close());

let clock: ManualClock;
let network: FakeNetwork;
let mainChain: FakeMainChain;
let store: OperatorStore;
let logs: LogEntry[];
let follower: EpochFollower;

/** The chain's view of epoch `epoch`: two operators, 6 + 4, threshold 7. */
function chainEpoch(epoch: number, overrides: { operatorKey?: Address } = {}) {
  mainChain.epochs.set(epoch, {
    startBlock: BigInt(epoch) * 12n,
    totalWeightWei: 10n,
    thresholdWeightWei: 7n,
    operators: new Map([
      [operator.toLowerCase(), { weightWei: 6n, signingKey: overrides.operatorKey ?? operatorKey }],
      [other.toLowerCase(), { weightWei: 4n, signingKey: otherKey }],
    ]),
  });
}

/** The registry's message for that epoch, as an honest registry builds it. */
function epochState(epoch: number, overrides: Partial<EpochStateMessage> = {}): EpochStateMessage {
  return {
    epoch,
    startBlock: BigInt(epoch) * 12n,
    minimumWeightWei: 0n,
    totalWeightWei: 10n,
    thresholdWeightWei: 7n,
    operators: [
      { operator, weightWei: 6n, signingKey: operatorKey },
      { operator: other, weightWei: 4n, signingKey: otherKey },
    ],
    publishedAtMs: clock.now(),
    ...overrides,
  };
}

/** A registry's sync answer: epoch 2, this operator active since epoch 2 with weight 6. */
function syncResponseAtEpoch2(): Uint8Array {
  return encodeSyncResponse({
    latestEpoch: epochState(2),
    stateHash: null,
    operators: [
      {
        address: operator,
        signingKey: operatorKey,
        weightWei: 6n,
        status: 'active',
        activeEpoch: 2,
        exitEpoch: null,
        missing: 0,
        successfulResponseCount: 0,
      },
    ],
  });
}

function createFollowerOn(on: OperatorStore): EpochFollower {
  const logger = createMemoryLogger();
  logs = logger.entries;
  return createEpochFollower(
    { clock, rng: createSeededRng(3), network, mainChain, store: on, log: logger },
    {
      ...DEFAULT_EPOCH_FOLLOWER_OPTIONS,
      syncRetry: { initialDelayMs: 250, maxDelayMs: 10_000, multiplier: 2, jitterRatio: 0 },
      operator,
      registryPeerIds: [REGISTRY],
    },
  );
}

beforeEach(async () => {
  clock = createManualClock();
  network = createFakeNetwork('OperatorPeer1');
  mainChain = createFakeMainChain();
  store = await stores.open(clock);
  follower = createFollowerOn(store);
  mainChain.currentEpoch = 2;
  chainEpoch(2);
});

afterEach(() => follower.stop());

describe('epoch follower', () => {
  test('behavior: adopts a gossiped state that matches the chain and stores it', async () => {
    await follower.start();
    const verdict = await network.deliver(TOPICS.epoch, REGISTRY, encodeEpochState(epochState(2)));
    expect(verdict).toBe('accept');
    await waitFor(() => follower.current()?.epoch === 2, 'epoch 2 adopted');
    expect(follower.current()).toMatchObject({
      epoch: 2,
      thresholdWeightWei: 7n,
      self: { operator, weightWei: 6n, signingKey: operatorKey },
      source: REGISTRY,
    });
    expect(follower.current()?.operators).toHaveLength(2);
    expect(await store.currentEpochState.get()).toMatchObject({
      epoch: 2,
      startBlock: 24n,
      totalWeightWei: 10n,
      thresholdWeightWei: 7n,
    });
  });

  test.each([
    ['the threshold', { thresholdWeightWei: 8n }, /thresholdWeightWei is 8, the chain says 7/],
    ['the total weight', { totalWeightWei: 11n }, /totalWeightWei is 11, the chain says 10/],
    ['the start block', { startBlock: 25n }, /startBlock is 25, the chain says 24/],
  ])(
    'behavior: refuses a state whose %s disagrees with the chain',
    async (_, overrides, detail) => {
      const outcome = await follower.offer(epochState(2, overrides), REGISTRY);
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'chainMismatch' });
      expect(outcome.kind === 'refused' && outcome.detail).toMatch(detail);
      expect(follower.current()).toBeUndefined();
      expect(await store.currentEpochState.get()).toBeUndefined();
      expect(logs.some((entry) => entry.message === 'epoch state refused')).toBe(true);
    },
  );

  test('behavior: refuses a state with this operator’s weight or signing key other than the chain’s', async () => {
    const wrongWeight = epochState(2, {
      operators: [
        { operator, weightWei: 5n, signingKey: operatorKey },
        { operator: other, weightWei: 4n, signingKey: otherKey },
      ],
    });
    const wrongKey = epochState(2, {
      operators: [
        { operator, weightWei: 6n, signingKey: otherKey },
        { operator: other, weightWei: 4n, signingKey: otherKey },
      ],
    });
    const weightOutcome = await follower.offer(wrongWeight, REGISTRY);
    const keyOutcome = await follower.offer(wrongKey, REGISTRY);
    expect(weightOutcome.kind === 'refused' && weightOutcome.detail).toMatch(
      /own weightWei is 5, the chain says 6/,
    );
    expect(keyOutcome.kind === 'refused' && keyOutcome.detail).toMatch(/own signingKey is 0x/);
    expect(follower.current()).toBeUndefined();
  });

  test('behavior: refuses an epoch the chain has not reached, and operators above the total', async () => {
    expect(await follower.offer(epochState(3), REGISTRY)).toMatchObject({
      kind: 'refused',
      reason: 'future',
    });
    const inflated = epochState(2, {
      operators: [
        { operator, weightWei: 6n, signingKey: operatorKey },
        { operator: other, weightWei: 5n, signingKey: otherKey },
      ],
    });
    expect(await follower.offer(inflated, REGISTRY)).toMatchObject({
      kind: 'refused',
      reason: 'chainMismatch',
    });
    expect(follower.current()).toBeUndefined();
  });

  test('behavior: a failed chain read leaves the state unverified and not adopted', async () => {
    mainChain.failure = new Error('rpc down');
    expect(await follower.offer(epochState(2), REGISTRY)).toMatchObject({ kind: 'unverified' });
    expect(follower.current()).toBeUndefined();
  });

  test('behavior: a state gossiped by a peer that is not a registry is rejected unchecked', async () => {
    await follower.start();
    const verdict = await network.deliver(
      TOPICS.epoch,
      'SomeOperatorPeer',
      encodeEpochState(epochState(2)),
    );
    expect(verdict).toBe('reject');
    expect(mainChain.calls).toEqual([]);
    expect(follower.current()).toBeUndefined();
  });

  test('behavior: malformed bytes are rejected; older and duplicate states are ignored', async () => {
    await follower.start();
    expect(await network.deliver(TOPICS.epoch, REGISTRY, new Uint8Array([0xff, 0xff]))).toBe(
      'reject',
    );
    chainEpoch(3);
    mainChain.currentEpoch = 3;
    expect((await follower.offer(epochState(3), REGISTRY)).kind).toBe('adopted');
    expect(await network.deliver(TOPICS.epoch, REGISTRY, encodeEpochState(epochState(2)))).toBe(
      'ignore',
    );
    expect(await follower.offer(epochState(2), REGISTRY)).toEqual({
      kind: 'older',
      currentEpoch: 3,
    });
    expect(await network.deliver(TOPICS.epoch, REGISTRY, encodeEpochState(epochState(3)))).toBe(
      'ignore',
    );
    expect(follower.current()?.epoch).toBe(3);
    expect(follower.previous()).toBeUndefined();
  });

  test('behavior: keeps the previous epoch after adopting the next one', async () => {
    expect((await follower.offer(epochState(2), REGISTRY)).kind).toBe('adopted');
    chainEpoch(3, { operatorKey: otherKey });
    mainChain.currentEpoch = 3;
    const next = epochState(3, {
      operators: [
        { operator, weightWei: 6n, signingKey: otherKey },
        { operator: other, weightWei: 4n, signingKey: otherKey },
      ],
    });
    expect((await follower.offer(next, REGISTRY)).kind).toBe('adopted');
    expect(follower.current()?.self?.signingKey).toBe(otherKey);
    expect(follower.previous()?.self?.signingKey).toBe(operatorKey);
  });

  test('behavior: on start it asks the registry (sync) and adopts its latest state, retrying with backoff', async () => {
    let syncs = 0;
    network.respond = (request) => {
      expect(request.protocol).toBe(PROTOCOLS.sync);
      expect(request.peer).toBe(REGISTRY);
      expect(decodeSyncRequest(request.data)).toEqual({ fromEpoch: 0, stateHash: null });
      syncs += 1;
      if (syncs === 1) throw new Error('not connected yet');
      return syncResponseAtEpoch2();
    };
    await follower.start();
    await waitFor(() => clock.pending().some((wait) => wait.kind === 'sleep'), 'sync backoff');
    expect(clock.pending()[0]?.durationMs).toBe(250);
    await clock.advance(250);
    await waitFor(() => follower.current()?.epoch === 2, 'adopted from sync');
    expect(syncs).toBe(2);
    await waitFor(async () => (await store.localOperator.get()) !== undefined, 'own record');
    expect(await store.localOperator.get()).toMatchObject({ status: 'active', activeEpoch: 2 });
  });

  test('behavior: a gap in gossiped epochs triggers a sync', async () => {
    let syncs = 0;
    network.respond = () => {
      syncs += 1;
      return encodeSyncResponse({ latestEpoch: epochState(2), stateHash: null, operators: [] });
    };
    await follower.start();
    await waitFor(() => follower.current()?.epoch === 2, 'adopted from the start sync');
    chainEpoch(5);
    mainChain.currentEpoch = 5;
    network.respond = () => {
      syncs += 1;
      return encodeSyncResponse({ latestEpoch: epochState(5), stateHash: null, operators: [] });
    };
    expect(await network.deliver(TOPICS.epoch, REGISTRY, encodeEpochState(epochState(5)))).toBe(
      'accept',
    );
    await waitFor(() => syncs === 2, 'a second sync');
    await waitFor(() => follower.current()?.epoch === 5, 'epoch 5');
  });

  test('behavior: an epoch adopted with an unchanged own record writes nothing to local_operator', async () => {
    await store.localOperator.put({
      address: operator,
      signingKey: operatorKey,
      weightWei: 6n,
      activeEpoch: 2,
      status: 'waitingActive',
    });
    const counted = countStoreCalls(store);
    follower = createFollowerOn(counted.store);
    const puts = () => counted.calls.filter((call) => call === 'localOperator.put').length;

    expect((await follower.offer(epochState(2), REGISTRY)).kind).toBe('adopted');
    expect(puts()).toBe(1); // waitingActive → active
    const written = await store.localOperator.get();
    expect(written).toMatchObject({ status: 'active', weightWei: 6n });

    await clock.advance(40_000);
    chainEpoch(3);
    mainChain.currentEpoch = 3;
    expect((await follower.offer(epochState(3), REGISTRY)).kind).toBe('adopted');
    expect(puts()).toBe(1);
    expect(await store.localOperator.get()).toEqual(written);

    // A changed weight is written.
    mainChain.currentEpoch = 4;
    mainChain.epochs.set(4, {
      startBlock: 48n,
      totalWeightWei: 11n,
      thresholdWeightWei: 7n,
      operators: new Map([
        [operator.toLowerCase(), { weightWei: 7n, signingKey: operatorKey }],
        [other.toLowerCase(), { weightWei: 4n, signingKey: otherKey }],
      ]),
    });
    const heavier = epochState(4, {
      totalWeightWei: 11n,
      operators: [
        { operator, weightWei: 7n, signingKey: operatorKey },
        { operator: other, weightWei: 4n, signingKey: otherKey },
      ],
    });
    expect((await follower.offer(heavier, REGISTRY)).kind).toBe('adopted');
    expect(puts()).toBe(2);
    expect(await store.localOperator.get()).toMatchObject({ status: 'active', weightWei: 7n });
  });

  test('behavior: a sync that brings the same own record again writes nothing to local_operator', async () => {
    const counted = countStoreCalls(store);
    follower = createFollowerOn(counted.store);
    let syncs = 0;
    network.respond = () => {
      syncs += 1;
      return syncResponseAtEpoch2();
    };
    await follower.start();
    await waitFor(() => follower.current()?.epoch === 2, 'adopted from sync');
    follower.requestSync('again');
    await waitFor(() => syncs === 2, 'a second sync');
    await follower.stop();
    expect(counted.calls.filter((call) => call === 'localOperator.put')).toHaveLength(1);
    expect(await store.localOperator.get()).toMatchObject({
      status: 'active',
      activeEpoch: 2,
      weightWei: 6n,
    });
  });

  test('behavior: waitForEpoch resolves on adoption or after its timeout', async () => {
    const signal = new AbortController().signal;
    const waiting = follower.waitForEpoch(2, { timeoutMs: 1_000, signal });
    await follower.offer(epochState(2), REGISTRY);
    expect((await waiting)?.epoch).toBe(2);
    const timedOut = follower.waitForEpoch(3, { timeoutMs: 1_000, signal });
    await clock.advance(1_000);
    expect((await timedOut)?.epoch).toBe(2);
  });
});
