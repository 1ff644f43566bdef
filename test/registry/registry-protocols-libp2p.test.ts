import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import { type Network, PROTOCOLS } from '../../src/ports/network.ts';
import { createHealthService, type HealthService } from '../../src/registry/health-service.ts';
import { createJoinService, type JoinService } from '../../src/registry/join-service.ts';
import { createPeerDirectory, type PeerDirectory } from '../../src/registry/peer-directory.ts';
import { createSyncService, type SyncService } from '../../src/registry/sync-service.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import {
  decodeHealthResponse,
  encodeHealthRequest,
  MAX_HEALTH_RESPONSE_BYTES,
} from '../../src/wire/health.ts';
import {
  decodeJoinResponse,
  encodeJoinRequest,
  MAX_JOIN_RESPONSE_BYTES,
} from '../../src/wire/join.ts';
import {
  decodeSyncResponse,
  encodeSyncRequest,
  MAX_SYNC_RESPONSE_BYTES,
} from '../../src/wire/sync.ts';
import {
  createTestClock,
  createTestLogger,
  newKey,
  openTestStore,
  secp256k1,
  signedJoin,
} from './support.ts';

const clock = createTestClock();
const log = createTestLogger();

let store: RegistryStore;
let closeStore: () => Promise<void>;
let registry: Network;
let operatorNode: Network;
let peers: PeerDirectory;
let join: JoinService;
let sync: SyncService;
let health: HealthService;

const account = newKey();
const signingKey = newKey();

beforeAll(async () => {
  ({ store, close: closeStore } = await openTestStore(clock));
  await store.operators.upsert({
    address: account.address,
    signingKey: signingKey.address,
    registeredAtBlockNumber: 1n,
    registeredAtTimestampSec: 1n,
    activeEpoch: 2,
    status: 'waitingJoin',
    weightWei: 10n,
  });
  await store.applyEpochAdvance({
    epochState: {
      epoch: 2,
      startBlock: 25n,
      minimumWeightWei: 0n,
      totalWeightWei: 10n,
      thresholdWeightWei: 7n,
    },
    operatorUpdates: [],
    epochOperators: [],
  });

  [registry, operatorNode] = (await Promise.all(
    [0, 1].map(() =>
      createLibp2pNetwork({ transport: 'memory', gossip: { heartbeatIntervalMs: 50 } }),
    ),
  )) as [Network, Network];
  await registry.start();
  await operatorNode.start();

  peers = createPeerDirectory({ store });
  await peers.start();
  join = createJoinService({ network: registry, store, secp256k1, clock, log, peers });
  sync = createSyncService({ network: registry, store, clock, log });
  health = createHealthService({
    network: registry,
    watcher: {
      health: () => ({
        status: 'ok',
        syncedToBlock: 30n,
        caughtUp: true,
        reorgBeyondDepth: null,
        lastError: null,
      }),
    },
    advancer: { currentEpoch: () => 2 },
    log,
  });
  await Promise.all([join.start(), sync.start(), health.start()]);
  await operatorNode.dial(registry.listenAddresses()[0] as string);
});

afterAll(async () => {
  await health?.stop();
  await sync?.stop();
  await join?.stop();
  await operatorNode?.stop();
  await registry?.stop();
  await closeStore?.();
});

describe('registry protocols over libp2p (memory transport)', () => {
  test('behavior: /spotted/join/1 accepts a signed join and binds the sending peer', async () => {
    const request = signedJoin({
      operator: account.address,
      peerId: operatorNode.peerId,
      signingKey: signingKey.privateKey,
      expiresAtMs: clock.now() + 60_000,
      listenAddresses: operatorNode.listenAddresses(),
    });
    const answer = decodeJoinResponse(
      await operatorNode.request(registry.peerId, PROTOCOLS.join, encodeJoinRequest(request), {
        timeoutMs: 5000,
        maxResponseBytes: MAX_JOIN_RESPONSE_BYTES,
      }),
    );
    expect(answer).toEqual({
      accepted: true,
      status: 'active',
      activeEpoch: 2,
      currentEpoch: 2,
      peers: [],
      detail: '',
    });
    expect(peers.operatorOf(operatorNode.peerId)).toBe(account.address);
    expect(peers.entryOf(account.address)?.addresses).toEqual(operatorNode.listenAddresses());

    // The same request again: the nonce has been used.
    const replay = decodeJoinResponse(
      await operatorNode.request(registry.peerId, PROTOCOLS.join, encodeJoinRequest(request), {
        timeoutMs: 5000,
        maxResponseBytes: MAX_JOIN_RESPONSE_BYTES,
      }),
    );
    expect(replay).toMatchObject({ accepted: false, reason: 'replayedNonce' });
  });

  test('behavior: /spotted/sync/1 answers the latest epoch and the operator records', async () => {
    const answer = decodeSyncResponse(
      await operatorNode.request(
        registry.peerId,
        PROTOCOLS.sync,
        encodeSyncRequest({ fromEpoch: 0, stateHash: null }),
        { timeoutMs: 5000, maxResponseBytes: MAX_SYNC_RESPONSE_BYTES },
      ),
    );
    expect(answer.latestEpoch).toMatchObject({ epoch: 2, totalWeightWei: 10n, operators: [] });
    expect(answer.operators).toEqual([
      expect.objectContaining({ address: account.address, status: 'active', activeEpoch: 2 }),
    ]);
  });

  test('behavior: /spotted/health/1 answers role registry, status, epoch and peers', async () => {
    const answer = decodeHealthResponse(
      await operatorNode.request(registry.peerId, PROTOCOLS.health, encodeHealthRequest(), {
        timeoutMs: 5000,
        maxResponseBytes: MAX_HEALTH_RESPONSE_BYTES,
      }),
    );
    expect(answer).toEqual({ role: 'registry', status: 'ok', epoch: 2, peers: 1, operator: null });
  });
});
