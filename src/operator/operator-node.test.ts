import { getAddress } from 'viem';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createFakeMainChain,
  createFakeStateChain,
  type FakeMainChain,
  fakeChains,
} from '../../test/operator/support/fake-chains.ts';
import {
  createFakeNetwork,
  type FakeNetwork,
  type RecordedRequest,
} from '../../test/operator/support/fake-network.ts';
import { createManualClock, type ManualClock } from '../../test/operator/support/manual-clock.ts';
import { operatorStoreFixture } from '../../test/operator/support/operator-store.ts';
import { waitFor } from '../../test/operator/support/wait-for.ts';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../adapters/logger/memory-logger.ts';
import { createSeededRng } from '../adapters/rng/seeded-rng.ts';
import { computeTaskId } from '../core/task-id.ts';
import { privateKeyNumber } from '../core/test-fixtures.ts';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import type { EpochStateMessage } from '../wire/epoch.ts';
import { decodeHealthResponse, encodeHealthRequest } from '../wire/health.ts';
import { encodeJoinResponse } from '../wire/join.ts';
import { encodeSyncResponse } from '../wire/sync.ts';
import { encodeTask } from '../wire/task.ts';
import { decodeTaskResponse, encodeTaskResponseAck } from '../wire/task-response.ts';
import { OperatorConfigError, StoreOwnedByOtherOperatorError } from './errors.ts';
import { createOperatorNode, type OperatorNode } from './operator-node.ts';

const secp256k1 = createNativeSecp256k1();
const operator = getAddress('0x00000000000000000000000000000000000000a1');
const signingKey = privateKeyNumber(1);
const signingAddress = secp256k1.addressOf(signingKey);
const user = getAddress('0x00000000000000000000000000000000000000d4');
const REGISTRY = 'RegistryPeer1';
const BOOTSTRAP = `/memory/registry/p2p/${REGISTRY}`;

const stores = operatorStoreFixture();
afterAll(() => stores.close());

let clock: ManualClock;
let network: FakeNetwork;
let mainChain: FakeMainChain;
let store: OperatorStore;
let node: OperatorNode | undefined;

const epochState = (): EpochStateMessage => ({
  epoch: 2,
  startBlock: 24n,
  minimumWeightWei: 0n,
  totalWeightWei: 10n,
  thresholdWeightWei: 7n,
  operators: [{ operator, weightWei: 10n, signingKey: signingAddress }],
  publishedAtMs: clock.now(),
});

function build(options: { bootstrap?: string[] } = {}): OperatorNode {
  const stateChain = createFakeStateChain(10);
  stateChain.history = () => ({ value: 5n, blockNumber: 100n, timestampSec: 1n });
  node = createOperatorNode(
    {
      clock,
      rng: createSeededRng(1),
      network,
      chains: fakeChains(mainChain, stateChain),
      store,
      secp256k1,
      log: createMemoryLogger(),
    },
    {
      operatorAddress: operator,
      signingPrivateKeys: [signingKey],
      registryBootstrapAddresses: options.bootstrap ?? [BOOTSTRAP],
    },
  );
  return node;
}

async function health() {
  return decodeHealthResponse(
    await network.serve(PROTOCOLS.health, REGISTRY, encodeHealthRequest()),
  );
}

beforeEach(async () => {
  clock = createManualClock();
  network = createFakeNetwork('OperatorPeer1');
  mainChain = createFakeMainChain();
  mainChain.currentEpoch = 2;
  mainChain.epochs.set(2, {
    startBlock: 24n,
    totalWeightWei: 10n,
    thresholdWeightWei: 7n,
    operators: new Map([[operator.toLowerCase(), { weightWei: 10n, signingKey: signingAddress }]]),
  });
  store = await stores.open(clock);
});

afterEach(async () => {
  await node?.stop();
  node = undefined;
});

describe('operator node', () => {
  test('behavior: starting → joined and epoch adopted → ok, then a task is signed and sent to its publisher', async () => {
    const taskResponses: RecordedRequest[] = [];
    network.respond = (request) => {
      switch (request.protocol) {
        case PROTOCOLS.join:
          return encodeJoinResponse({
            accepted: true,
            status: 'active',
            activeEpoch: 1,
            currentEpoch: 2,
            peers: [],
            detail: '',
          });
        case PROTOCOLS.sync:
          if (network.connected.size === 0) throw new Error('not connected');
          return encodeSyncResponse({ latestEpoch: epochState(), stateHash: null, operators: [] });
        case PROTOCOLS.response:
          taskResponses.push(request);
          return encodeTaskResponseAck({ accepted: true, detail: '' });
        default:
          throw new Error(`unexpected ${request.protocol}`);
      }
    };
    const operatorNode = build();
    await operatorNode.start();
    expect(network.subscribed().sort()).toEqual(
      [TOPICS.epoch, TOPICS.registry, TOPICS.task].sort(),
    );
    expect(network.handled()).toEqual([PROTOCOLS.health]);
    await waitFor(() => operatorNode.status().health.status === 'ok', 'healthy');
    expect(await health()).toEqual({
      role: 'operator',
      status: 'ok',
      epoch: 2,
      peers: 1,
      operator,
    });

    const fields = {
      user,
      chainId: 10,
      blockNumber: 100n,
      timestampSec: 0n,
      epoch: 2,
      key: 1n,
      value: 5n,
    };
    const taskId = computeTaskId(fields);
    await network.deliver(
      TOPICS.task,
      REGISTRY,
      encodeTask({
        taskId,
        chainId: 10,
        targetAddress: user,
        key: 1n,
        blockNumber: 100n,
        timestampSec: 0n,
        byTimestamp: false,
        value: 5n,
        epoch: 2,
        round: 0,
        respondByMs: clock.now() + 3_000,
        selectedOperators: [operator],
        historyBlockNumber: 100n,
        historyTimestampSec: 1n,
      }),
    );
    await waitFor(() => taskResponses.length === 1, 'a task response');
    const response = decodeTaskResponse((taskResponses[0] as RecordedRequest).data);
    if (response.kind !== 'signed') throw new Error('expected a signature');
    expect(taskResponses[0]?.peer).toBe(REGISTRY);
    expect(secp256k1.recoverAddress(taskId, response.signature)).toBe(signingAddress);

    await operatorNode.stop();
    expect(network.subscribed()).toEqual([]);
    expect(network.handled()).toEqual([]);
    expect(clock.pending()).toEqual([]);
  });

  test('behavior: health says starting before the join, and the refusal after SUSPENDED', async () => {
    network.respond = (request) => {
      if (request.protocol === PROTOCOLS.join) {
        return encodeJoinResponse({ accepted: false, reason: 'suspended', detail: 'five misses' });
      }
      throw new Error('registry down');
    };
    const operatorNode = build();
    await operatorNode.start();
    await waitFor(() => operatorNode.status().join.phase === 'refused', 'refused');
    expect((await health()).status).toBe('suspended');
    expect(operatorNode.status().health).toEqual({ status: 'suspended', epoch: 0 });
  });

  test('behavior: a store that belongs to another operator is refused at start', async () => {
    await store.localOperator.put({
      address: getAddress('0x00000000000000000000000000000000000000b2'),
      signingKey: signingAddress,
      activeEpoch: 1,
      status: 'active',
      weightWei: 1n,
    });
    await expect(build().start()).rejects.toThrow(StoreOwnedByOtherOperatorError);
    node = undefined;
  });

  test('behavior: bad options are config errors at creation', () => {
    expect(() => build({ bootstrap: ['/memory/registry'] })).toThrow(
      /registryBootstrapAddresses\[0\]: "\/memory\/registry" is not a multiaddr ending in \/p2p\/<peer id>/,
    );
    expect(() => build({ bootstrap: [] })).toThrow(OperatorConfigError);
    expect(() =>
      createOperatorNode(
        {
          clock,
          rng: createSeededRng(1),
          network,
          chains: fakeChains(mainChain),
          store,
          secp256k1,
          log: createMemoryLogger(),
        },
        {
          operatorAddress: '0x1234',
          signingPrivateKeys: [signingKey],
          registryBootstrapAddresses: [BOOTSTRAP],
        },
      ),
    ).toThrow(/operatorAddress/);
    node = undefined;
  });
});
