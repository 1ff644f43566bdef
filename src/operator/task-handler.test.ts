import { getAddress, type Hex } from 'viem';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createFakeMainChain,
  createFakeStateChain,
  type FakeStateChain,
  fakeChains,
  noHistory,
  rpcFailure,
} from '../../test/operator/support/fake-chains.ts';
import { createFakeNetwork, type FakeNetwork } from '../../test/operator/support/fake-network.ts';
import { createManualClock, type ManualClock } from '../../test/operator/support/manual-clock.ts';
import { operatorStoreFixture } from '../../test/operator/support/operator-store.ts';
import { waitFor } from '../../test/operator/support/wait-for.ts';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger, type LogEntry } from '../adapters/logger/memory-logger.ts';
import { createSeededRng } from '../adapters/rng/seeded-rng.ts';
import type { EpochOperator } from '../core/epoch-state.ts';
import { computeTaskId } from '../core/task-id.ts';
import { privateKeyNumber } from '../core/test-fixtures.ts';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import { NetworkError } from '../ports/network-errors.ts';
import type { Rejection } from '../ports/rejections.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import { encodeTask, type TaskMessage } from '../wire/task.ts';
import {
  decodeTaskResponse,
  encodeTaskResponseAck,
  type TaskResponseMessage,
} from '../wire/task-response.ts';
import { createBehaviour, type OperatorBehaviourSpec } from './behaviour.ts';
import type { AdoptedEpoch, EpochView } from './epoch-follower.ts';
import { createKeyRing } from './key-ring.ts';
import {
  createTaskHandler,
  DEFAULT_TASK_HANDLER_OPTIONS,
  type TaskHandler,
  type TaskHandlerOptions,
} from './task-handler.ts';

const secp256k1 = createNativeSecp256k1();
const operator = getAddress('0x00000000000000000000000000000000000000a1');
const other = getAddress('0x00000000000000000000000000000000000000b2');
const user = getAddress('0x00000000000000000000000000000000000000d4');
const epochKey = privateKeyNumber(1);
const previousKey = privateKeyNumber(2);
const strangerKey = privateKeyNumber(3);
const REGISTRY = 'RegistryPeer1';
const AGGREGATOR = REGISTRY;
const CHAIN = 10;
const VALUE = 1_000_000_000_000_000_001n;

const stores = operatorStoreFixture();
afterAll(() => stores.close());

/** A hand-driven epoch view: what the follower would have adopted. */
interface FakeEpochs extends EpochView {
  currentEpoch: AdoptedEpoch | undefined;
  previousEpoch: AdoptedEpoch | undefined;
  syncRequests: string[];
}

function adopted(epoch: number, operators: EpochOperator[], adoptedAtMs: number): AdoptedEpoch {
  return {
    epoch,
    startBlock: BigInt(epoch) * 12n,
    minimumWeightWei: 0n,
    totalWeightWei: 10n,
    thresholdWeightWei: 7n,
    operators,
    self: operators.find((entry) => entry.operator === operator),
    publishedAtMs: adoptedAtMs,
    adoptedAtMs,
    source: REGISTRY,
  };
}

const withKey = (key: Hex): EpochOperator[] => [
  { operator, weightWei: 6n, signingKey: secp256k1.addressOf(key) },
  { operator: other, weightWei: 4n, signingKey: secp256k1.addressOf(strangerKey) },
];

let clock: ManualClock;
let network: FakeNetwork;
let stateChain: FakeStateChain;
let store: OperatorStore;
let epochs: FakeEpochs;
let logs: LogEntry[];
let handler: TaskHandler;
let responses: TaskResponseMessage[];

/** Rejections the handler reported (named reasons, for metrics and bans). */
let rejected: Rejection[] = [];

function startHandler(
  spec: OperatorBehaviourSpec = { kind: 'honest' },
  overrides: Partial<TaskHandlerOptions> = {},
): TaskHandler {
  const logger = createMemoryLogger();
  logs = logger.entries;
  handler = createTaskHandler(
    {
      clock,
      rng: createSeededRng(11),
      network,
      chains: fakeChains(createFakeMainChain(), stateChain),
      store,
      secp256k1,
      keyRing: createKeyRing({ secp256k1 }, { signingPrivateKeys: [epochKey, previousKey] }),
      epochs,
      behaviour: createBehaviour(spec),
      log: logger,
      reportRejection: (rejection) => rejected.push(rejection),
    },
    { ...DEFAULT_TASK_HANDLER_OPTIONS, ...overrides, operator, registryPeerIds: [REGISTRY] },
  );
  void handler.start();
  return handler;
}

/** A task by block (or by time) whose id is computed over the query point, as the aggregator does. */
function makeTask(overrides: Partial<TaskMessage> = {}): TaskMessage {
  const byTimestamp = overrides.byTimestamp ?? false;
  const fields = {
    targetAddress: user,
    chainId: CHAIN,
    key: 7n,
    blockNumber: byTimestamp ? 0n : 120n,
    timestampSec: byTimestamp ? 1_700_000_123n : 0n,
    byTimestamp,
    value: VALUE,
    epoch: 5,
    ...overrides,
  };
  return {
    taskId: computeTaskId({
      user: fields.targetAddress,
      chainId: fields.chainId,
      blockNumber: fields.blockNumber,
      timestampSec: fields.timestampSec,
      epoch: fields.epoch,
      key: fields.key,
      value: fields.value,
    }),
    round: 0,
    respondByMs: clock.now() + 3_000,
    selectedOperators: [operator, other],
    historyBlockNumber: 118n,
    historyTimestampSec: 1_700_000_100n,
    ...fields,
    ...overrides,
  };
}

async function deliver(task: TaskMessage, from = REGISTRY) {
  const verdict = await network.deliver(TOPICS.task, from, encodeTask(task));
  await handler.idle();
  return verdict;
}

/** Sleeps and timers of the handler's work, without the prune loop's long sleep. */
function waits() {
  return clock
    .pending()
    .filter((wait) => wait.durationMs < DEFAULT_TASK_HANDLER_OPTIONS.pruneIntervalMs);
}

async function onlyResponse(): Promise<TaskResponseMessage> {
  expect(responses).toHaveLength(1);
  return responses[0] as TaskResponseMessage;
}

beforeEach(async () => {
  clock = createManualClock();
  network = createFakeNetwork('OperatorPeer1');
  stateChain = createFakeStateChain(CHAIN);
  stateChain.history = () => ({ value: VALUE, blockNumber: 118n, timestampSec: 1_700_000_100n });
  store = await stores.open(clock);
  responses = [];
  network.respond = (request) => {
    expect(request.protocol).toBe(PROTOCOLS.response);
    expect(request.peer).toBe(AGGREGATOR);
    responses.push(decodeTaskResponse(request.data));
    return encodeTaskResponseAck({ accepted: true, detail: '' });
  };
  const current = adopted(5, withKey(epochKey), clock.now());
  epochs = {
    currentEpoch: current,
    previousEpoch: adopted(4, withKey(previousKey), clock.now() - 60_000),
    syncRequests: [],
    current: () => epochs.currentEpoch,
    previous: () => epochs.previousEpoch,
    requestSync: (reason) => epochs.syncRequests.push(reason),
    waitForEpoch: async (_epoch, { timeoutMs, signal }) => {
      await clock.sleep(timeoutMs, { signal }).catch(() => {});
      return epochs.currentEpoch;
    },
  };
});

afterEach(() => handler.stop());

describe('task handler: signing', () => {
  test('behavior: signs computeTaskId of the query point (by block) with the epoch key and sends it to the publisher', async () => {
    startHandler();
    const task = makeTask();
    expect(await deliver(task)).toBe('accept');
    const response = await onlyResponse();
    const expectedId = computeTaskId({
      user,
      chainId: CHAIN,
      blockNumber: 120n,
      timestampSec: 0n,
      epoch: 5,
      key: 7n,
      value: VALUE,
    });
    expect(response).toMatchObject({
      kind: 'signed',
      taskId: expectedId,
      operator,
      epoch: 5,
      round: 0,
    });
    if (response.kind !== 'signed') throw new Error('unreachable');
    expect(secp256k1.recoverAddress(expectedId, response.signature)).toBe(
      secp256k1.addressOf(epochKey),
    );
    expect(stateChain.queries).toEqual([{ by: 'block', user, key: 7n, blockNumber: 120n }]);
    expect(await store.tasks.get(expectedId)).toMatchObject({
      blockNumber: 120n,
      timestampSec: 0n,
      value: VALUE,
      epoch: 5,
      expiresAtMs: task.respondByMs,
    });
    expect(await store.taskResponses.get(expectedId)).toMatchObject({
      outcome: 'signed',
      signature: response.signature,
    });
  });

  test('behavior: a task by time reads getHistoryAtTimestamp and signs the id with blockNumber 0', async () => {
    startHandler();
    await deliver(makeTask({ byTimestamp: true }));
    const response = await onlyResponse();
    const expectedId = computeTaskId({
      user,
      chainId: CHAIN,
      blockNumber: 0n,
      timestampSec: 1_700_000_123n,
      epoch: 5,
      key: 7n,
      value: VALUE,
    });
    expect(stateChain.queries).toEqual([
      { by: 'timestamp', user, key: 7n, timestampSec: 1_700_000_123n },
    ]);
    if (response.kind !== 'signed') throw new Error(`refused: ${JSON.stringify(response)}`);
    expect(secp256k1.recoverAddress(expectedId, response.signature)).toBe(
      secp256k1.addressOf(epochKey),
    );
  });

  test('behavior: a task of the previous epoch is signed with that epoch’s key during the grace, refused after', async () => {
    epochs.currentEpoch = adopted(5, withKey(epochKey), clock.now());
    startHandler({ kind: 'honest' }, { previousEpochGraceMs: 5_000 });
    const early = makeTask({ epoch: 4 });
    await deliver(early);
    const response = await onlyResponse();
    if (response.kind !== 'signed') throw new Error('expected a signature');
    expect(secp256k1.recoverAddress(early.taskId, response.signature)).toBe(
      secp256k1.addressOf(previousKey),
    );
    await clock.advance(5_001);
    await deliver(makeTask({ epoch: 4, key: 8n }));
    expect(responses[1]).toMatchObject({ kind: 'refused', reason: 'staleEpoch' });
  });
});

describe('task handler: refusals', () => {
  test('behavior: a different value on chain is VALUE_MISMATCH carrying the observed value', async () => {
    stateChain.history = () => ({ value: VALUE + 5n, blockNumber: 118n, timestampSec: 1n });
    startHandler();
    await deliver(makeTask());
    expect(await onlyResponse()).toMatchObject({
      kind: 'refused',
      reason: 'valueMismatch',
      observedValue: VALUE + 5n,
    });
  });

  test('behavior: an unconfigured chain is UNKNOWN_CHAIN', async () => {
    startHandler();
    await deliver(makeTask({ chainId: 99 }));
    expect(await onlyResponse()).toMatchObject({ kind: 'refused', reason: 'unknownChain' });
    expect(stateChain.queries).toEqual([]);
  });

  test('behavior: NoHistoryFound is NO_HISTORY; an RPC failure is CHAIN_UNAVAILABLE', async () => {
    startHandler();
    stateChain.history = () => {
      throw noHistory(stateChain.label, 'getHistoryAtBlock');
    };
    await deliver(makeTask());
    stateChain.history = () => {
      throw rpcFailure(stateChain.label, 'getHistoryAtBlock');
    };
    await deliver(makeTask({ key: 8n }));
    expect(responses.map((response) => response.kind === 'refused' && response.reason)).toEqual([
      'noHistory',
      'chainUnavailable',
    ]);
  });

  test('behavior: not in the epoch’s operators is NOT_ACTIVE; a missing key is NOT_ACTIVE and logged as an error', async () => {
    epochs.currentEpoch = adopted(5, withKey(strangerKey).slice(1), clock.now());
    startHandler();
    await deliver(makeTask());
    epochs.currentEpoch = adopted(5, withKey(strangerKey), clock.now());
    await deliver(makeTask({ key: 8n }));
    expect(responses).toHaveLength(2);
    expect(responses.every((r) => r.kind === 'refused' && r.reason === 'notActive')).toBe(true);
    expect(logs.filter((entry) => entry.level === 'error').map((entry) => entry.message)).toEqual([
      'no private key for this epoch’s signing key: configure it to sign',
    ]);
  });

  test('behavior: an older epoch, or a newer one whose state does not arrive in time, is STALE_EPOCH', async () => {
    startHandler();
    await deliver(makeTask({ epoch: 3 }));
    expect(await onlyResponse()).toMatchObject({ kind: 'refused', reason: 'staleEpoch' });
    const future = network.deliver(TOPICS.task, REGISTRY, encodeTask(makeTask({ epoch: 6 })));
    await future;
    await waitFor(() => waits().length > 0, 'waiting for epoch 6');
    expect(epochs.syncRequests).toHaveLength(1);
    expect(waits()[0]?.durationMs).toBe(DEFAULT_TASK_HANDLER_OPTIONS.futureEpochWaitMs);
    await clock.advance(1_000);
    await handler.idle();
    expect(responses[1]).toMatchObject({ kind: 'refused', reason: 'staleEpoch', epoch: 6 });
  });

  test('behavior: a task more than one epoch ahead is dropped unanswered as epoch_out_of_window, without a sync', async () => {
    rejected = [];
    startHandler();
    expect(await deliver(makeTask({ epoch: 7 }))).toBe('ignore');
    expect(responses).toEqual([]);
    expect(epochs.syncRequests).toEqual([]);
    expect(rejected).toEqual([
      { reason: 'epoch_out_of_window', channel: TOPICS.task, peer: REGISTRY },
    ]);
  });

  test('behavior: tasks from a peer that is not a registry, or malformed, are rejected by name', async () => {
    rejected = [];
    startHandler();
    expect(await deliver(makeTask(), 'StrangerPeer1')).toBe('reject');
    expect(await network.deliver(TOPICS.task, REGISTRY, new Uint8Array([0xff, 0x01]))).toBe(
      'reject',
    );
    expect(rejected.map((rejection) => rejection.reason)).toEqual(['not_registry', 'malformed']);
    expect(responses).toEqual([]);
  });

  test('behavior: a newer epoch adopted while waiting is answered with that epoch', async () => {
    epochs.waitForEpoch = async (epoch) => {
      epochs.previousEpoch = epochs.currentEpoch;
      epochs.currentEpoch = adopted(epoch, withKey(previousKey), clock.now());
      return epochs.currentEpoch;
    };
    startHandler();
    const task = makeTask({ epoch: 6 });
    await deliver(task);
    const response = await onlyResponse();
    if (response.kind !== 'signed') throw new Error('expected a signature');
    expect(secp256k1.recoverAddress(task.taskId, response.signature)).toBe(
      secp256k1.addressOf(previousKey),
    );
  });

  test('behavior: a task id that does not hash from its fields is MALFORMED_TASK, never signed', async () => {
    startHandler();
    const task = makeTask();
    await deliver({
      ...task,
      taskId: computeTaskId({
        user,
        chainId: CHAIN,
        blockNumber: 120n,
        timestampSec: 0n,
        epoch: 5,
        key: 7n,
        value: VALUE + 1n,
      }),
    });
    expect(await onlyResponse()).toMatchObject({ kind: 'refused', reason: 'malformedTask' });
  });
});

describe('task handler: delivery and idempotency', () => {
  test('behavior: each (task, round) is answered once; a later round re-sends the stored answer', async () => {
    startHandler();
    const task = makeTask();
    expect(await deliver(task)).toBe('accept');
    expect(await deliver(task)).toBe('ignore');
    expect(responses).toHaveLength(1);
    stateChain.history = () => ({ value: VALUE + 1n, blockNumber: 118n, timestampSec: 1n });
    expect(await deliver({ ...task, round: 1 })).toBe('accept');
    expect(await deliver({ ...task, round: 1 })).toBe('ignore');
    expect(responses).toHaveLength(2);
    const [first, second] = responses as [TaskResponseMessage, TaskResponseMessage];
    expect(second).toEqual({ ...first, round: 1 });
    expect(stateChain.queries).toHaveLength(1);
  });

  test('behavior: a stored refusal is re-sent with its reason and observed value', async () => {
    stateChain.history = () => ({ value: 42n, blockNumber: 118n, timestampSec: 1n });
    startHandler();
    const task = makeTask();
    await deliver(task);
    await deliver({ ...task, round: 2 });
    expect(responses[1]).toEqual({ ...responses[0], round: 2 });
    expect(responses[1]).toMatchObject({ reason: 'valueMismatch', observedValue: 42n });
  });

  test('behavior: tasks for other operators are forwarded untouched; tasks from non-registry peers are rejected', async () => {
    startHandler();
    expect(await deliver(makeTask({ selectedOperators: [other] }))).toBe('accept');
    expect(await deliver(makeTask(), 'SomeOperatorPeer')).toBe('reject');
    expect(stateChain.queries).toEqual([]);
    expect(responses).toEqual([]);
    expect(await store.tasks.listByStatus('pending', { limit: 10 })).toEqual([]);
  });

  test('behavior: a failed send is retried (bounded) and a task after its deadline is not retried', async () => {
    let failures = 2;
    const answer = network.respond;
    network.respond = (request) => {
      if (failures > 0) {
        failures -= 1;
        throw new NetworkError('REQUEST_TIMEOUT', 'slow aggregator');
      }
      return answer(request);
    };
    startHandler({ kind: 'honest' }, { sendRetryDelayMs: 100 });
    await network.deliver(TOPICS.task, REGISTRY, encodeTask(makeTask()));
    await waitFor(() => waits().length > 0, 'first retry wait');
    expect(waits()[0]?.durationMs).toBe(100);
    await clock.advance(100);
    await waitFor(() => waits().length > 0, 'second retry wait');
    expect(waits()[0]?.durationMs).toBe(200);
    await clock.advance(200);
    await handler.idle();
    expect(network.requests).toHaveLength(3);
    expect(responses).toHaveLength(1);

    failures = 10;
    await network.deliver(
      TOPICS.task,
      REGISTRY,
      encodeTask(makeTask({ key: 8n, respondByMs: clock.now() + 50 })),
    );
    await waitFor(() => waits().length > 0, 'retry wait');
    await clock.advance(100);
    await handler.idle();
    // One try; the retry would start after the deadline, so it does not.
    expect(network.requests).toHaveLength(4);
  });
});

describe('task handler: behaviours on the wire', () => {
  test('behavior: silent answers nothing and records no answer', async () => {
    startHandler({ kind: 'silent' });
    const task = makeTask();
    await deliver(task);
    expect(network.requests).toEqual([]);
    expect(await store.taskResponses.get(task.taskId)).toBeUndefined();
    expect(stateChain.queries).toHaveLength(1);
  });

  test('behavior: slow answers only after its delay on the clock', async () => {
    startHandler({ kind: 'slow', delayMs: 4_000 });
    await network.deliver(TOPICS.task, REGISTRY, encodeTask(makeTask()));
    await waitFor(() => waits().length > 0, 'the slow delay');
    expect(waits()[0]?.durationMs).toBe(4_000);
    await clock.advance(3_999);
    expect(responses).toEqual([]);
    await clock.advance(1);
    await handler.idle();
    expect((await onlyResponse()).kind).toBe('signed');
  });

  test('behavior: wrongValue and badSignature send a signature that does not verify for the epoch key', async () => {
    for (const kind of ['wrongValue', 'badSignature'] as const) {
      await handler?.stop();
      responses.length = 0;
      store = await stores.open(clock);
      startHandler({ kind });
      const task = makeTask();
      await deliver(task);
      const response = await onlyResponse();
      if (response.kind !== 'signed') throw new Error('expected a signature');
      expect(secp256k1.recoverAddress(task.taskId, response.signature)).not.toBe(
        secp256k1.addressOf(epochKey),
      );
    }
  });

  test('behavior: equivocate sends two answers; flood sends the answer plus its bogus ones', async () => {
    startHandler({ kind: 'equivocate' });
    await deliver(makeTask());
    expect(responses.map((response) => response.kind)).toEqual(['signed', 'refused']);
    await handler.stop();
    responses.length = 0;
    store = await stores.open(clock);
    startHandler({ kind: 'flood', count: 5 });
    await deliver(makeTask());
    expect(responses).toHaveLength(6);
  });
});
