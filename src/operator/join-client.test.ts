import { type Address, getAddress, type Hex } from 'viem';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import {
  createFakeMainChain,
  type FakeMainChain,
} from '../../test/operator/support/fake-chains.ts';
import {
  createFakeNetwork,
  type FakeNetwork,
  type RecordedRequest,
} from '../../test/operator/support/fake-network.ts';
import { createManualClock, type ManualClock } from '../../test/operator/support/manual-clock.ts';
import { operatorStoreFixture } from '../../test/operator/support/operator-store.ts';
import { countStoreCalls } from '../../test/operator/support/store-calls.ts';
import { waitFor } from '../../test/operator/support/wait-for.ts';
import { createNativeSecp256k1 } from '../adapters/crypto/native-secp256k1.ts';
import { createMemoryLogger } from '../adapters/logger/memory-logger.ts';
import { createSeededRng } from '../adapters/rng/seeded-rng.ts';
import { privateKeyNumber } from '../core/test-fixtures.ts';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import { NetworkError } from '../ports/network-errors.ts';
import { joinDigest } from '../protocol/join-digest.ts';
import type { OperatorStore } from '../store/operator/operator-store.ts';
import {
  decodeJoinRequest,
  encodeJoinResponse,
  type JoinRequestMessage,
  type JoinResponseMessage,
  type PeerInfoMessage,
} from '../wire/join.ts';
import { encodeRegistryAnnouncement } from '../wire/registry.ts';
import {
  createJoinClient,
  DEFAULT_JOIN_CLIENT_OPTIONS,
  type JoinClient,
  type JoinClientOptions,
} from './join-client.ts';
import { createKeyRing } from './key-ring.ts';

const secp256k1 = createNativeSecp256k1();
const operator: Address = getAddress('0x00000000000000000000000000000000000000a1');
const signingKey = privateKeyNumber(1);
const rotatedKey = privateKeyNumber(2);
const REGISTRY = { address: '/memory/registry/p2p/RegistryPeer1', peerId: 'RegistryPeer1' };
const NO_JITTER = { multiplier: 2, jitterRatio: 0 };

const stores = operatorStoreFixture();
afterAll(() => stores.close());

let clock: ManualClock;
let network: FakeNetwork;
let mainChain: FakeMainChain;
let store: OperatorStore;
let client: JoinClient | undefined;

beforeEach(async () => {
  await client?.stop();
  client = undefined;
  clock = createManualClock();
  network = createFakeNetwork('OperatorPeer1');
  mainChain = createFakeMainChain();
  store = await stores.open(clock);
});

function startClient(
  keys: Hex[] = [signingKey],
  overrides: Partial<JoinClientOptions> = {},
): JoinClient {
  client = createJoinClient(
    {
      clock,
      rng: createSeededRng(7),
      network,
      mainChain,
      store,
      secp256k1,
      keyRing: createKeyRing({ secp256k1 }, { signingPrivateKeys: keys }),
      log: createMemoryLogger(),
    },
    {
      ...DEFAULT_JOIN_CLIENT_OPTIONS,
      retry: { initialDelayMs: 500, maxDelayMs: 4_000, ...NO_JITTER },
      notRegisteredRetry: { initialDelayMs: 5_000, maxDelayMs: 20_000, ...NO_JITTER },
      operator,
      registries: [REGISTRY],
      ...overrides,
    },
  );
  void client.start();
  return client;
}

const joinRequests = (): JoinRequestMessage[] =>
  network.requests
    .filter((request) => request.protocol === PROTOCOLS.join)
    .map((request) => decodeJoinRequest(request.data));

const accepted = (peers: PeerInfoMessage[] = []): JoinResponseMessage => ({
  accepted: true,
  status: 'waitingActive',
  activeEpoch: 3,
  currentEpoch: 2,
  peers,
  detail: '',
});

/** Answers join requests with `answers` in turn (the last one repeats). */
function registryAnswers(...answers: (JoinResponseMessage | Error)[]) {
  let index = 0;
  network.respond = (request: RecordedRequest) => {
    if (request.protocol !== PROTOCOLS.join) throw new Error(`unexpected ${request.protocol}`);
    const answer = answers[Math.min(index, answers.length - 1)] as JoinResponseMessage | Error;
    index += 1;
    if (answer instanceof Error) throw answer;
    return encodeJoinResponse(answer);
  };
}

async function nextSleepMs(): Promise<number> {
  await waitFor(() => clock.pending().some((wait) => wait.kind === 'sleep'), 'a retry sleep');
  return (clock.pending().find((wait) => wait.kind === 'sleep') as { durationMs: number })
    .durationMs;
}

describe('join client', () => {
  test('behavior: the request is signed over the join digest with the signing key, fresh nonce, 60 s expiry', async () => {
    registryAnswers(accepted());
    const joined = startClient();
    await waitFor(() => joined.summary().phase === 'joined', 'joined');

    const [request] = joinRequests();
    if (request === undefined) throw new Error('no join request');
    expect(network.requests[0]?.peer).toBe(REGISTRY.peerId);
    expect(network.dials[0]).toBe(REGISTRY.address);
    expect(request.operator).toBe(operator);
    expect(request.peerId).toBe(network.peerId);
    expect(request.nonce).toMatch(/^0x[0-9a-f]{64}$/);
    expect(request.expiresAtMs).toBe(clock.now() + 60_000);
    const digest = joinDigest({
      operator: request.operator,
      peerId: request.peerId,
      nonce: request.nonce,
      expiresAtMs: request.expiresAtMs,
    });
    expect(secp256k1.recoverAddress(digest, request.signature)).toBe(
      secp256k1.addressOf(signingKey),
    );
    expect(joined.summary()).toEqual({
      phase: 'joined',
      registry: REGISTRY.peerId,
      status: 'waitingActive',
      activeEpoch: 3,
      currentEpoch: 2,
    });
    await waitFor(async () => (await store.peerCache.get(REGISTRY.peerId)) !== undefined, 'cached');
    expect(await store.localOperator.get()).toMatchObject({
      address: operator,
      signingKey: secp256k1.addressOf(signingKey),
      activeEpoch: 3,
      status: 'waitingActive',
      weightWei: 0n,
    });
  });

  test('behavior: when the registry connection drops (registry restart), the node joins again', async () => {
    registryAnswers(accepted(), new NetworkError('PEER_UNREACHABLE', 'registry down'), accepted());
    const joining = startClient();
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    expect(joinRequests()).toHaveLength(1);

    network.disconnect(REGISTRY.peerId);
    await waitFor(
      () => joining.registryStates().get(REGISTRY.peerId)?.phase === 'joining',
      'joining again',
    );
    await clock.advance(await nextSleepMs()); // the first retry finds the registry still down
    await waitFor(() => joining.summary().phase === 'joined', 'joined again');
    const requests = joinRequests();
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((request) => request.nonce)).size).toBe(3);
    // Dialed at the start and again after the drop; the failed request left the new connection up.
    expect(network.dials.filter((address) => address === REGISTRY.address)).toHaveLength(2);
  });

  test('behavior: a stopped client stops watching the connection and does not join again', async () => {
    registryAnswers(accepted());
    const joining = startClient();
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    await joining.stop();
    network.disconnect(REGISTRY.peerId);
    await new Promise((resolve) => setImmediate(resolve));
    expect(joinRequests()).toHaveLength(1);
  });

  test('behavior: NOT_REGISTERED is retried slowly with growing, capped waits and a fresh nonce each time', async () => {
    const notRegistered: JoinResponseMessage = {
      accepted: false,
      reason: 'notRegistered',
      detail: 'unknown operator',
    };
    registryAnswers(notRegistered, notRegistered, notRegistered, notRegistered, accepted());
    const joining = startClient();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const waitMs = await nextSleepMs();
      waits.push(waitMs);
      expect(joining.registryStates().get(REGISTRY.peerId)).toMatchObject({
        phase: 'joining',
        attempts: i + 1,
        lastProblem: 'notRegistered: unknown operator',
      });
      await clock.advance(waitMs);
    }
    await waitFor(() => joining.summary().phase === 'joined', 'joined after retries');
    expect(waits).toEqual([5_000, 10_000, 20_000, 20_000]);
    const nonces = joinRequests().map((request) => request.nonce);
    expect(nonces).toHaveLength(5);
    expect(new Set(nonces).size).toBe(5);
  });

  test('behavior: network failures back off from the fast policy, capped', async () => {
    const unreachable = new NetworkError('REQUEST_TIMEOUT', 'no answer');
    registryAnswers(unreachable, unreachable, unreachable, unreachable, unreachable, accepted());
    const joining = startClient();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const waitMs = await nextSleepMs();
      waits.push(waitMs);
      await clock.advance(waitMs);
    }
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    expect(waits).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
  });

  test('behavior: SUSPENDED and DEREGISTERED stop the client and are reported', async () => {
    for (const reason of ['suspended', 'deregistered'] as const) {
      network = createFakeNetwork('OperatorPeer1');
      registryAnswers({ accepted: false, reason, detail: `operator is ${reason}` });
      const refused = startClient();
      await waitFor(() => refused.summary().phase === 'refused', 'refused');
      expect(refused.summary()).toEqual({
        phase: 'refused',
        registry: REGISTRY.peerId,
        reason,
        detail: `operator is ${reason}`,
      });
      await clock.advance(10 * 60_000);
      expect(joinRequests()).toHaveLength(1);
      expect(clock.pending()).toEqual([]);
      await refused.stop();
    }
  });

  test('behavior: the key the chain names goes first; BAD_SIGNATURE moves on to the next key', async () => {
    const rotatedAddress = secp256k1.addressOf(rotatedKey);
    mainChain.currentEpoch = 2;
    mainChain.epochs.set(2, {
      startBlock: 24n,
      totalWeightWei: 10n,
      thresholdWeightWei: 7n,
      operators: new Map([
        [operator.toLowerCase(), { weightWei: 10n, signingKey: rotatedAddress }],
      ]),
    });
    registryAnswers(
      { accepted: false, reason: 'badSignature', detail: 'wrong signer' },
      accepted(),
    );
    const joining = startClient([signingKey, rotatedKey]);
    await clock.advance(await nextSleepMs());
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    const signers = joinRequests().map((request) =>
      secp256k1.recoverAddress(
        joinDigest({
          operator: request.operator,
          peerId: request.peerId,
          nonce: request.nonce,
          expiresAtMs: request.expiresAtMs,
        }),
        request.signature,
      ),
    );
    expect(signers).toEqual([rotatedAddress, secp256k1.addressOf(signingKey)]);
    expect((await store.localOperator.get())?.signingKey).toBe(secp256k1.addressOf(signingKey));
  });

  test('behavior: discovery dials at most maxDiscoveryDials peers, skipping itself and registries, and caches them', async () => {
    const peer = (n: number, operatorAddress: Address | null = null): PeerInfoMessage => ({
      peerId: `OperatorPeer${n}`,
      addresses: [`/memory/op${n}/p2p/OperatorPeer${n}`],
      operator: operatorAddress,
    });
    const unreachable = peer(3);
    network.dialer = (address) => {
      if (address.includes('op3')) throw new NetworkError('PEER_UNREACHABLE', 'gone');
      return address.slice(address.lastIndexOf('/p2p/') + 5);
    };
    registryAnswers(
      accepted([
        peer(1), // itself
        { peerId: REGISTRY.peerId, addresses: [REGISTRY.address], operator: null },
        peer(2, '0x00000000000000000000000000000000000000b2'),
        unreachable,
        peer(4),
      ]),
    );
    const joining = startClient([signingKey], { maxDiscoveryDials: 2 });
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    await waitFor(
      async () => (await store.peerCache.list({ limit: 10 })).length === 3,
      'registry and two discovery peers cached',
    );
    expect(network.dials).toEqual([
      REGISTRY.address,
      '/memory/op2/p2p/OperatorPeer2',
      '/memory/op3/p2p/OperatorPeer3',
    ]);
    expect(await store.peerCache.get('OperatorPeer2')).toMatchObject({
      status: 'connected',
      operatorAddress: getAddress('0x00000000000000000000000000000000000000b2'),
    });
    expect(await store.peerCache.get('OperatorPeer3')).toMatchObject({ status: 'disconnected' });
    expect(await store.peerCache.get('OperatorPeer4')).toBeUndefined();
  });

  test('behavior: a join caches the registry and its discovery peers in one store call; a re-join within a minute writes nothing', async () => {
    const counted = countStoreCalls(store);
    store = counted.store;
    const writes = () =>
      counted.calls.filter((call) => call.endsWith('.put') || call.startsWith('peerCache.upsert'));
    const peers: PeerInfoMessage[] = [2, 3].map((n) => ({
      peerId: `OperatorPeer${n}`,
      addresses: [`/memory/op${n}/p2p/OperatorPeer${n}`],
      operator: null,
    }));
    registryAnswers(accepted(peers));
    const joining = startClient();
    await waitFor(() => writes().includes('peerCache.upsertMany'), 'peers cached');
    expect(writes()).toEqual(['localOperator.put', 'peerCache.upsertMany']);
    expect((await store.peerCache.list({ limit: 10 })).map((peer) => peer.peerId).sort()).toEqual([
      'OperatorPeer2',
      'OperatorPeer3',
      REGISTRY.peerId,
    ]);
    const firstSeenAtMs = (await store.peerCache.get(REGISTRY.peerId))?.lastSeenAtMs;

    // The registry restarts: the same answer again, 30 s later.
    await clock.advance(30_000);
    network.disconnect(REGISTRY.peerId);
    await waitFor(() => joinRequests().length === 2, 'joined again');
    await waitFor(() => joining.summary().phase === 'joined', 'joined');
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(writes()).toEqual(['localOperator.put', 'peerCache.upsertMany']);

    // A minute after the last write the registry's entry is refreshed (its last_seen_at moves).
    await clock.advance(30_000);
    network.disconnect(REGISTRY.peerId);
    await waitFor(() => writes().length === 3, 'the registry entry refreshed');
    expect(writes()[2]).toBe('peerCache.upsertMany');
    const refreshed = await store.peerCache.get(REGISTRY.peerId);
    expect(refreshed?.lastSeenAtMs).toBe((firstSeenAtMs ?? 0) + 60_000);
    expect((await store.peerCache.get('OperatorPeer2'))?.lastSeenAtMs).toBe(firstSeenAtMs);
  });

  test('behavior: a registry announcement from a registry being retried ends the backoff at once', async () => {
    const unreachable = new NetworkError('PEER_UNREACHABLE', 'registry down');
    registryAnswers(unreachable, unreachable, unreachable, unreachable, accepted());
    const joining = startClient([signingKey], {
      retry: { initialDelayMs: 30_000, maxDelayMs: 30_000, ...NO_JITTER },
    });
    for (let i = 0; i < 3; i++) await clock.advance(await nextSleepMs());
    expect(await nextSleepMs()).toBe(30_000);
    const announcement = encodeRegistryAnnouncement({
      peerId: REGISTRY.peerId,
      addresses: [],
      epoch: 3,
      stateHash: `0x${'ab'.repeat(32)}`,
    });
    // From anyone else it is ignored and wakes nothing.
    expect(await network.deliver(TOPICS.registry, 'SomeonePeer', announcement)).toBe('ignore');
    expect(joinRequests()).toHaveLength(4);
    expect(await network.deliver(TOPICS.registry, REGISTRY.peerId, announcement)).toBe('accept');
    await waitFor(() => joining.summary().phase === 'joined', 'joined without waiting 30 s');
    expect(joinRequests()).toHaveLength(5);
  });

  test('behavior: stop() ends a waiting loop and leaves no sleep behind', async () => {
    registryAnswers(new NetworkError('PEER_UNREACHABLE', 'down'));
    const joining = startClient();
    await nextSleepMs();
    await joining.stop();
    expect(clock.pending()).toEqual([]);
    client = undefined;
  });
});
