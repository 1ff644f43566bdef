import type { PGlite } from '@electric-sql/pglite';
import type { Address, Hex } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { OperatorStatus } from '../../src/core/operator-status.ts';
import {
  createJoinService,
  type JoinService,
  MAX_JOIN_EXPIRY_AHEAD_MS,
} from '../../src/registry/join-service.ts';
import { createPeerDirectory, type PeerDirectory } from '../../src/registry/peer-directory.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import {
  decodeJoinResponse,
  encodeJoinRequest,
  type JoinRequestMessage,
  type JoinResponseMessage,
} from '../../src/wire/join.ts';
import {
  createTestClock,
  createTestLogger,
  newKey,
  openTestStore,
  secp256k1,
  signedJoin,
  type TestKey,
} from './support.ts';

const CURRENT_EPOCH = 5;
const clock = createTestClock();
const log = createTestLogger();
const noNetwork = { handle: async () => {}, unhandle: async () => {}, publish: async () => {} };

let store: RegistryStore;
let pglite: PGlite;
let closeStore: () => Promise<void>;
let peers: PeerDirectory;
let service: JoinService;

interface TestOperator {
  account: TestKey;
  key: TestKey;
  peerId: string;
}

let counter = 0;

/** Registers an operator in the store (as the event watcher would) and returns its keys. */
async function seedOperator(
  overrides: { activeEpoch?: number; status?: OperatorStatus; exitEpoch?: number | null } = {},
): Promise<TestOperator> {
  counter += 1;
  const account = newKey();
  const key = newKey();
  const status = overrides.status ?? 'waitingJoin';
  await store.operators.upsert({
    address: account.address,
    signingKey: key.address,
    registeredAtBlockNumber: 1n,
    registeredAtTimestampSec: 1n,
    activeEpoch: overrides.activeEpoch ?? CURRENT_EPOCH + 1,
    exitEpoch: overrides.exitEpoch ?? null,
    status,
    ...(status === 'suspended' ? { statusBeforeSuspension: 'active' as const } : {}),
  });
  return { account, key, peerId: `peer${counter}` };
}

function joinOf(
  operator: TestOperator,
  overrides: Partial<{
    signingKey: Hex;
    expiresAtMs: number;
    nonce: Hex;
    peerId: string;
    listenAddresses: string[];
  }> = {},
): JoinRequestMessage {
  return signedJoin({
    operator: operator.account.address,
    peerId: overrides.peerId ?? operator.peerId,
    signingKey: overrides.signingKey ?? operator.key.privateKey,
    expiresAtMs: overrides.expiresAtMs ?? clock.now() + 60_000,
    ...(overrides.nonce === undefined ? {} : { nonce: overrides.nonce }),
    ...(overrides.listenAddresses === undefined
      ? {}
      : { listenAddresses: overrides.listenAddresses }),
  });
}

async function join(operator: TestOperator, request = joinOf(operator)) {
  return service.handleJoin(request.peerId, request);
}

function expectRefused(answer: JoinResponseMessage, reason: string): void {
  expect(answer).toMatchObject({ accepted: false, reason });
}

beforeAll(async () => {
  ({ store, pglite, close: closeStore } = await openTestStore(clock));
  await store.applyEpochAdvance({
    epochState: {
      epoch: CURRENT_EPOCH,
      startBlock: 100n,
      minimumWeightWei: 0n,
      totalWeightWei: 0n,
      thresholdWeightWei: 0n,
    },
    operatorUpdates: [],
    epochOperators: [],
  });
});

afterAll(async () => {
  await closeStore?.();
});

beforeEach(async () => {
  peers = createPeerDirectory({ store });
  await peers.start();
  service = createJoinService({ network: noNetwork, store, secp256k1, clock, log, peers });
});

describe('join service: accepted joins', () => {
  test('behavior: joining before activeEpoch → waitingActive, peer bound and stored', async () => {
    const operator = await seedOperator({ activeEpoch: CURRENT_EPOCH + 1 });
    const answer = await join(operator);
    expect(answer).toEqual({
      accepted: true,
      status: 'waitingActive',
      activeEpoch: CURRENT_EPOCH + 1,
      currentEpoch: CURRENT_EPOCH,
      peers: expect.any(Array),
      detail: '',
    });
    expect(await store.operators.get(operator.account.address)).toMatchObject({
      status: 'waitingActive',
      peerId: operator.peerId,
    });
    expect(peers.operatorOf(operator.peerId)).toBe(operator.account.address);
    expect(peers.peerOf(operator.account.address)).toBe(operator.peerId);
    const events = await store.registryEvents.list({
      operatorAddress: operator.account.address,
      eventType: 'operatorJoined',
      limit: 10,
    });
    expect(events.map((event) => event.data)).toEqual([
      { peerId: operator.peerId, from: 'waitingJoin', to: 'waitingActive', currentEpoch: 5 },
    ]);
  });

  test('behavior: joining at or after activeEpoch → active', async () => {
    const atEpoch = await seedOperator({ activeEpoch: CURRENT_EPOCH });
    const after = await seedOperator({ activeEpoch: CURRENT_EPOCH - 2 });
    expect(await join(atEpoch)).toMatchObject({ accepted: true, status: 'active' });
    expect(await join(after)).toMatchObject({ accepted: true, status: 'active' });
    expect((await store.operators.get(after.account.address))?.status).toBe('active');
  });

  test('behavior: the answer lists the other joined operators with their addresses', async () => {
    const first = await seedOperator();
    const second = await seedOperator({ activeEpoch: CURRENT_EPOCH });
    const unjoined = await seedOperator();
    await join(first, joinOf(first, { listenAddresses: ['/memory/first', '/ip4/1.2.3.4/tcp/1'] }));
    const answer = await join(second);
    if (!answer.accepted) throw new Error('expected an accepted join');
    const listed = answer.peers.map((peer) => peer.operator);
    expect(answer.peers).toContainEqual({
      peerId: first.peerId,
      addresses: ['/memory/first', '/ip4/1.2.3.4/tcp/1'],
      operator: first.account.address,
    });
    expect(listed).not.toContain(second.account.address);
    expect(listed).not.toContain(unjoined.account.address);
  });

  test('behavior: a joined operator may join again from a new peer: status kept, binding moved', async () => {
    const operator = await seedOperator({ activeEpoch: CURRENT_EPOCH });
    await join(operator);
    const answer = await join(operator, joinOf(operator, { peerId: 'restartedPeer' }));
    expect(answer).toMatchObject({
      accepted: true,
      status: 'active',
      detail: 'already joined: peer binding updated',
    });
    expect(peers.peerOf(operator.account.address)).toBe('restartedPeer');
    expect(peers.operatorOf(operator.peerId)).toBeUndefined();
    expect((await store.operators.get(operator.account.address))?.peerId).toBe('restartedPeer');
  });

  test('behavior: a peer joining as another operator moves from the first one', async () => {
    const first = await seedOperator();
    const second = await seedOperator();
    await join(first, joinOf(first, { peerId: 'sharedPeer' }));
    await join(second, joinOf(second, { peerId: 'sharedPeer' }));
    expect(peers.operatorOf('sharedPeer')).toBe(second.account.address);
    expect(peers.peerOf(first.account.address)).toBeUndefined();
    expect((await store.operators.get(first.account.address))?.peerId).toBeNull();
  });

  test('behavior: the directory reloads bindings from the store (addresses are not stored)', async () => {
    const operator = await seedOperator();
    await join(operator);
    const reloaded = createPeerDirectory({ store });
    await reloaded.start();
    expect(reloaded.operatorOf(operator.peerId)).toBe(operator.account.address);
    expect(reloaded.entryOf(operator.account.address)?.addresses).toEqual([]);
  });
});

describe('join service: refusals', () => {
  test('behavior: an unregistered operator is refused (notRegistered)', async () => {
    const stranger: TestOperator = { account: newKey(), key: newKey(), peerId: 'strangerPeer' };
    expectRefused(await join(stranger), 'notRegistered');
  });

  test('behavior: a join signed by another key is refused (badSignature)', async () => {
    const operator = await seedOperator();
    const answer = await join(operator, joinOf(operator, { signingKey: newKey().privateKey }));
    expectRefused(answer, 'badSignature');
    // Signed by the operator's account key rather than its signing key: refused too.
    const byAccount = joinOf(operator, { signingKey: operator.account.privateKey });
    expectRefused(await join(operator, byAccount), 'badSignature');
    expect((await store.operators.get(operator.account.address))?.status).toBe('waitingJoin');
    expect(peers.operatorOf(operator.peerId)).toBeUndefined();
  });

  test('behavior: a join whose signature covers other fields is refused (badSignature)', async () => {
    const operator = await seedOperator();
    const signed = joinOf(operator);
    const tampered = { ...signed, expiresAtMs: signed.expiresAtMs + 1 };
    expectRefused(await join(operator, tampered), 'badSignature');
  });

  test('behavior: an expired join, or one expiring too far ahead, is refused (expired)', async () => {
    const operator = await seedOperator();
    expectRefused(
      await join(operator, joinOf(operator, { expiresAtMs: clock.now() - 1 })),
      'expired',
    );
    const tooFar = clock.now() + MAX_JOIN_EXPIRY_AHEAD_MS + 60_000;
    expectRefused(await join(operator, joinOf(operator, { expiresAtMs: tooFar })), 'expired');
    // Valid when sent, expired by the time the registry sees it.
    const late = joinOf(operator, { expiresAtMs: clock.now() + 1000 });
    clock.advance(2000);
    expectRefused(await join(operator, late), 'expired');
  });

  test('behavior: a replayed nonce is refused (replayedNonce), even in a freshly signed request', async () => {
    const operator = await seedOperator();
    const request = joinOf(operator);
    expect((await join(operator, request)).accepted).toBe(true);
    expectRefused(await join(operator, request), 'replayedNonce');
    const resigned = joinOf(operator, { nonce: request.nonce });
    expectRefused(await join(operator, resigned), 'replayedNonce');
  });

  test('behavior: a suspended operator is refused (suspended)', async () => {
    const operator = await seedOperator({ status: 'suspended' });
    expectRefused(await join(operator), 'suspended');
  });

  test('behavior: an operator whose exit epoch is reached is refused (deregistered)', async () => {
    const exited = await seedOperator({ activeEpoch: 2, exitEpoch: CURRENT_EPOCH });
    expectRefused(await join(exited), 'deregistered');
    const unactive = await seedOperator({ activeEpoch: 2, status: 'unactive', exitEpoch: 4 });
    expectRefused(await join(unactive), 'deregistered');
    // Deregistered but still before its exit epoch: it works until then.
    const leaving = await seedOperator({ activeEpoch: 2, exitEpoch: CURRENT_EPOCH + 1 });
    expect(await join(leaving)).toMatchObject({ accepted: true, status: 'active' });
  });

  test('behavior: a join sent from another peer than the one it binds is refused (malformed)', async () => {
    const operator = await seedOperator();
    const request = joinOf(operator);
    const answer = await service.handleJoin('someOtherPeer', request);
    expectRefused(answer, 'malformed');
    expect(peers.operatorOf(operator.peerId)).toBeUndefined();
  });

  test('behavior: undecodable bytes are answered as malformed', async () => {
    const answer = decodeJoinResponse(
      await service.handleJoinBytes('anyPeer', new Uint8Array([1])),
    );
    expectRefused(answer, 'malformed');
  });

  test('behavior: the bytes handler decodes, decides and encodes', async () => {
    const operator = await seedOperator();
    const bytes = await service.handleJoinBytes(
      operator.peerId,
      encodeJoinRequest(joinOf(operator)),
    );
    expect(decodeJoinResponse(bytes)).toMatchObject({ accepted: true, status: 'waitingActive' });
  });
});

describe('join service before the first epoch', () => {
  test('behavior: with no epoch advanced yet, a join waits for the first one (waitingActive)', async () => {
    const { store: empty, close } = await openTestStore(clock, pglite);
    try {
      const directory = createPeerDirectory({ store: empty });
      const early = createJoinService({
        network: noNetwork,
        store: empty,
        secp256k1,
        clock,
        log,
        peers: directory,
      });
      const account = newKey();
      const key = newKey();
      await empty.operators.upsert({
        address: account.address,
        signingKey: key.address,
        registeredAtBlockNumber: 1n,
        registeredAtTimestampSec: 1n,
        activeEpoch: 0,
        status: 'waitingJoin',
      });
      const request = signedJoin({
        operator: account.address as Address,
        peerId: 'earlyPeer',
        signingKey: key.privateKey,
        expiresAtMs: clock.now() + 60_000,
      });
      expect(await early.handleJoin('earlyPeer', request)).toMatchObject({
        accepted: true,
        status: 'waitingActive',
        currentEpoch: 0,
        detail: 'no epoch has started at this registry yet',
      });
    } finally {
      await close();
    }
  });
});
