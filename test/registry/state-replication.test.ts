import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/adapters/clock/virtual-clock.ts';
import {
  createSimNetworkHub,
  type SimNetworkHub,
} from '../../src/adapters/network-sim/sim-network.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import { createPglite } from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { Network } from '../../src/ports/network.ts';
import { unsuspendOperator } from '../../src/registry/admin.ts';
import { RegistryConfigError } from '../../src/registry/errors.ts';
import { createJoinService, type JoinService } from '../../src/registry/join-service.ts';
import { createPeerDirectory, type PeerDirectory } from '../../src/registry/peer-directory.ts';
import { epochStateHash } from '../../src/registry/state-hash.ts';
import {
  createStateReplication,
  type StateReplication,
} from '../../src/registry/state-replication.ts';
import { createSyncService, type SyncService } from '../../src/registry/sync-service.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { createTestLogger, newKey, openTestStore, secp256k1, signedJoin } from './support.ts';

const STATE = {
  epoch: 1,
  startBlock: 13n,
  minimumWeightWei: 1n,
  totalWeightWei: 300n,
  thresholdWeightWei: 200n,
};
const aliceSigningKey = newKey();
const alice = { operator: newKey().address, signingKey: aliceSigningKey.address };
const bob = { operator: newKey().address, signingKey: newKey().address };

interface Registry {
  name: string;
  network: Network;
  store: RegistryStore;
  sync: SyncService;
  replication: StateReplication;
  peers: PeerDirectory;
  join: JoinService;
  close(): Promise<void>;
}

let pglite: PGlite;

beforeAll(async () => {
  pglite = await createPglite();
});

afterAll(async () => {
  await pglite?.close();
});

/** Runs `work` while moving virtual time on in 5 ms steps (the sim network delivers on it). */
async function onVirtualTime<T>(clock: VirtualClock, work: Promise<T>): Promise<T> {
  let done = false;
  const observed = work.finally(() => {
    done = true;
  });
  for (let steps = 0; !done && steps < 20_000; steps++) await clock.advanceBy(5);
  return observed;
}

/** Three registries on one sim network, each with its store at epoch 1; `bobWeight` per registry. */
async function deployment(bobWeights: readonly bigint[]) {
  const clock = createVirtualClock({ startMs: 1_000_000 });
  const hub: SimNetworkHub = createSimNetworkHub({ clock, rng: createSeededRng(7) });
  const log = createTestLogger();
  const networks = bobWeights.map((_, index) => hub.createPeer(`reg${index}`));
  for (const network of networks) await network.start();
  const registries: Registry[] = [];
  for (const [index, bobWeight] of bobWeights.entries()) {
    const network = networks[index] as Network;
    const { store, close } = await openTestStore(clock, pglite);
    for (const entry of [alice, bob]) {
      await store.operators.upsert({
        address: entry.operator,
        signingKey: entry.signingKey,
        registeredAtBlockNumber: 1n,
        registeredAtTimestampSec: 1n,
        activeEpoch: 1,
        status: 'active',
        weightWei: 100n,
      });
    }
    await store.applyEpochAdvance({
      epochState: STATE,
      operatorUpdates: [{ address: bob.operator, weightWei: bobWeight }],
      epochOperators: [
        { ...alice, weightWei: 100n },
        { ...bob, weightWei: bobWeight },
      ],
    });
    const peers = createPeerDirectory({ store });
    await peers.start();
    const join = createJoinService({ network, store, secp256k1, clock, log, peers });
    const sync = createSyncService({ network, store, clock, log, joinLog: join.joinLog });
    await sync.start();
    const replication = createStateReplication(
      {
        network,
        store,
        clock,
        log: log.child(`reg${index}`),
        advancer: { currentEpoch: () => 1, onEpochAdvanced: () => () => {} },
        joins: { log: join.joinLog, apply: (request) => join.applyReplicatedJoin(request) },
      },
      {
        peers: networks
          .filter((other) => other !== network)
          .map((other) => ({ peerId: other.peerId, address: other.listenAddresses()[0] ?? '' })),
        checkIntervalMs: 60_000,
        requestTimeoutMs: 1_000,
      },
    );
    await replication.start();
    registries.push({
      name: `reg${index}`,
      network,
      store,
      sync,
      replication,
      peers,
      join,
      close: async () => {
        await replication.stop();
        await sync.stop();
        await network.stop();
        await close();
      },
    });
  }
  return { clock, log, registries };
}

async function hashOf(store: RegistryStore): Promise<string> {
  const latest = await store.epochStates.getLatest();
  if (latest === undefined) throw new Error('no epoch');
  return epochStateHash(latest, await store.epochOperators.list(latest.epoch));
}

describe('state replication between registries', () => {
  test('behavior: the one registry that disagrees with a majority detects it and repairs from it', async () => {
    const { clock, log, registries } = await deployment([200n, 200n, 400n]);
    const [a, b, c] = registries as [Registry, Registry, Registry];
    try {
      const majorityHash = await hashOf(a.store);
      expect(await hashOf(c.store)).not.toBe(majorityHash);

      await onVirtualTime(clock, c.replication.checkNow());
      expect(c.replication.stats()).toMatchObject({
        status: 'agreed',
        epoch: 1,
        localStateHash: majorityHash,
        divergencesDetected: 1,
        divergencesRepaired: 1,
      });
      expect(await hashOf(c.store)).toBe(majorityHash);
      expect((await c.store.epochOperators.get(1, bob.operator))?.weightWei).toBe(200n);
      expect((await c.store.operators.get(bob.operator))?.weightWei).toBe(200n);
      expect(log.entries.map((entry) => entry.message)).toEqual(
        expect.arrayContaining(['state divergence detected', 'state repaired']),
      );

      // c's announcement on /spotted/registry/1 made a and b compare too, without their timers
      // (60 s) or an advance: both found the majority holds their own hash.
      for (let steps = 0; steps < 400 && b.replication.stats().status !== 'agreed'; steps++) {
        await clock.advanceBy(5);
      }
      expect(b.replication.stats()).toMatchObject({ status: 'agreed', epoch: 1 });
      await onVirtualTime(clock, a.replication.checkNow());
      expect(a.replication.stats()).toMatchObject({ status: 'agreed', divergencesDetected: 0 });
      expect(await hashOf(a.store)).toBe(majorityHash);
      expect(await hashOf(b.store)).toBe(majorityHash);
    } finally {
      for (const registry of registries) await registry.close();
    }
  });

  test('behavior: without a strict majority nothing is repaired and the epoch stays unchecked', async () => {
    const { clock, registries } = await deployment([200n, 300n, 400n]);
    const [a, , c] = registries as [Registry, Registry, Registry];
    try {
      const before = await hashOf(c.store);
      await onVirtualTime(clock, c.replication.checkNow());
      expect(c.replication.stats()).toMatchObject({
        status: 'unchecked',
        divergencesDetected: 0,
        divergencesRepaired: 0,
      });
      expect(c.replication.diverged()).toBe(false);
      expect(await hashOf(c.store)).toBe(before);
      expect(await hashOf(a.store)).not.toBe(before);
    } finally {
      for (const registry of registries) await registry.close();
    }
  });

  test('behavior: a peer that is down casts no vote; two of three still make a majority', async () => {
    const { clock, registries } = await deployment([200n, 200n, 400n]);
    const [a, b, c] = registries as [Registry, Registry, Registry];
    try {
      await c.network.stop();
      await onVirtualTime(clock, a.replication.checkNow());
      expect(a.replication.stats()).toMatchObject({ status: 'agreed', divergencesDetected: 0 });
      await b.network.stop();
      const lone = createStateReplication(
        {
          network: a.network,
          store: a.store,
          clock,
          log: createTestLogger(),
          advancer: { currentEpoch: () => 1, onEpochAdvanced: () => () => {} },
        },
        {
          peers: [b, c].map((peer) => ({
            peerId: peer.network.peerId,
            address: `/memory/${peer.network.peerId}/p2p/${peer.network.peerId}`,
          })),
          checkIntervalMs: 60_000,
          requestTimeoutMs: 1_000,
        },
      );
      await lone.start();
      await onVirtualTime(clock, lone.checkNow());
      expect(lone.stats().status).toBe('unchecked');
      await lone.stop();
    } finally {
      for (const registry of registries) await registry.close().catch(() => {});
    }
  });

  test('behavior: operator facts replicate as a set union: misses, suspension and its lifting reach every registry', async () => {
    const { clock, registries } = await deployment([200n, 200n, 200n]);
    const [a, b, c] = registries as [Registry, Registry, Registry];
    const taskId = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const;
    try {
      // a collects five tasks alice misses; c collects one of the same tasks again (same id).
      for (const n of [1, 2, 3, 4, 5]) {
        await a.store.operators.recordMiss(alice.operator, {
          suspendAtMisses: 5,
          taskId: taskId(n),
        });
      }
      await c.store.operators.recordMiss(alice.operator, { suspendAtMisses: 5, taskId: taskId(3) });
      await onVirtualTime(clock, b.replication.syncFactsNow());
      await onVirtualTime(clock, c.replication.syncFactsNow());
      for (const registry of [a, b, c]) {
        expect(await registry.store.operators.get(alice.operator)).toMatchObject({
          status: 'suspended',
          missing: 5,
        });
      }
      expect(b.replication.stats().factsMerged).toBe(5);

      // The admin lifts the suspension on b only; a and c follow by pulling.
      await unsuspendOperator(b.store, alice.operator, 1);
      await onVirtualTime(clock, a.replication.syncFactsNow());
      await onVirtualTime(clock, c.replication.syncFactsNow());
      for (const registry of [a, b, c]) {
        expect(await registry.store.operators.get(alice.operator)).toMatchObject({
          status: 'active',
          missing: 0,
        });
      }
      // Pulling again changes nothing (idempotent).
      const merged = a.replication.stats().factsMerged;
      await onVirtualTime(clock, a.replication.syncFactsNow());
      expect(a.replication.stats().factsMerged).toBe(merged);
    } finally {
      for (const registry of registries) await registry.close().catch(() => {});
    }
  });

  test('behavior: a join to one registry reaches the others as the signed join, re-verified by each', async () => {
    const { clock, registries } = await deployment([200n, 200n, 200n]);
    const [a, b, c] = registries as [Registry, Registry, Registry];
    try {
      // alice joins a only (from its own peer id, as a direct join must come).
      const first = signedJoin({
        operator: alice.operator,
        peerId: 'alicePeer1',
        signingKey: aliceSigningKey.privateKey,
        expiresAtMs: clock.now() + 60_000,
      });
      expect(await a.join.handleJoin('alicePeer1', first)).toMatchObject({ accepted: true });
      expect(b.peers.peerOf(alice.operator)).toBeUndefined();

      // Minutes later (the join's own expiry long past), b and c pull it and bind alice's peer.
      await clock.advanceBy(10 * 60_000);
      await onVirtualTime(clock, b.replication.syncFactsNow());
      await onVirtualTime(clock, c.replication.syncFactsNow());
      for (const registry of [b, c]) {
        expect(registry.peers.peerOf(alice.operator)).toBe('alicePeer1');
        expect(await registry.store.operators.get(alice.operator)).toMatchObject({
          peerId: 'alicePeer1',
        });
      }
      expect(b.replication.stats().joinsApplied).toBe(1);

      // A newer join (new peer id after an operator restart) to c wins everywhere; replaying the
      // older one afterwards changes nothing.
      const second = signedJoin({
        operator: alice.operator,
        peerId: 'alicePeer2',
        signingKey: aliceSigningKey.privateKey,
        expiresAtMs: clock.now() + 60_000,
      });
      expect(await c.join.handleJoin('alicePeer2', second)).toMatchObject({ accepted: true });
      await onVirtualTime(clock, a.replication.syncFactsNow());
      await onVirtualTime(clock, b.replication.syncFactsNow());
      for (const registry of [a, b, c]) {
        expect(registry.peers.peerOf(alice.operator)).toBe('alicePeer2');
      }
      expect(await b.join.applyReplicatedJoin(first)).toMatchObject({
        accepted: false,
        reason: 'replayedNonce',
      });
      expect(b.peers.peerOf(alice.operator)).toBe('alicePeer2');

      // A join not signed by the key b holds for the operator is refused, whoever forwards it.
      const forged = signedJoin({
        operator: bob.operator,
        peerId: 'mallory',
        signingKey: newKey().privateKey,
        expiresAtMs: clock.now() + 120_000,
      });
      expect(await b.join.applyReplicatedJoin(forged)).toMatchObject({
        accepted: false,
        reason: 'badSignature',
      });
      expect(b.peers.peerOf(bob.operator)).toBeUndefined();
    } finally {
      for (const registry of registries) await registry.close().catch(() => {});
    }
  });

  test('rejects: bad options name the option', () => {
    const deps = {
      network: {} as Network,
      store: {} as RegistryStore,
      clock: createVirtualClock(),
      log: createTestLogger(),
      advancer: { currentEpoch: () => undefined, onEpochAdvanced: () => () => {} },
    };
    expect(() =>
      createStateReplication(deps, { peers: [], checkIntervalMs: 0, requestTimeoutMs: 1 }),
    ).toThrow(
      new RegistryConfigError('replication.checkIntervalMs', 'must be a positive integer, got 0'),
    );
    const peer = { peerId: 'p', address: '/memory/p/p2p/p' };
    expect(() =>
      createStateReplication(deps, {
        peers: [peer, peer],
        checkIntervalMs: 1,
        requestTimeoutMs: 1,
      }),
    ).toThrow('replication.peers[1]: peer p is listed twice');
  });
});
