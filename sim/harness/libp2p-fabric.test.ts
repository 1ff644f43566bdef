import { afterEach, describe, expect, test } from 'vitest';
import {
  createVirtualClock,
  type VirtualClock,
  yieldTurns,
} from '../../src/adapters/clock/virtual-clock.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import { type Network, PROTOCOLS, TOPICS } from '../../src/ports/network.ts';
import { NetworkError } from '../../src/ports/network-errors.ts';
import { createLibp2pFabric, type Libp2pFabric, libp2pPrivateKey } from './libp2p-fabric.ts';

const START_MS = 1_000_000;
const text = new TextEncoder();
const REQUEST = { timeoutMs: 2_000, maxResponseBytes: 1_000 };

/** A fabric on a virtual clock whose settle waits for the fabric, as the simulator's does. */
function setup(latencyMs = 20) {
  let fabric: Libp2pFabric | undefined;
  const clock = createVirtualClock({
    startMs: START_MS,
    settle: async () => {
      for (;;) {
        await fabric?.idle();
        await yieldTurns(2);
        if (fabric?.busy() !== true) return;
      }
    },
  });
  fabric = createLibp2pFabric({
    clock,
    rng: createSeededRng('fabric-test'),
    seed: 7,
    conditions: { latencyMs, jitterMs: 0, lossRate: 0, duplicateRate: 0 },
  });
  return { clock, fabric };
}

const started: Network[] = [];
afterEach(async () => {
  for (const peer of started.splice(0)) await peer.stop();
});

/** Dials on the virtual clock: the dial ends one round trip of virtual time later. */
async function connect(clock: VirtualClock, fabric: Libp2pFabric, from: Network, to: Network) {
  const dialing = from.dial(fabric.bootstrapAddresses(to)[0] ?? '');
  await clock.advanceBy(100);
  expect(await dialing).toBe(to.peerId);
}

async function peersOf(fabric: Libp2pFabric, ...names: string[]): Promise<Network[]> {
  const peers: Network[] = [];
  for (const name of names) {
    const peer = await fabric.createPeer(name);
    await peer.start();
    started.push(peer);
    peers.push(peer);
  }
  return peers;
}

describe('libp2p fabric (real libp2p on the memory transport, timed by the virtual clock)', () => {
  test('behavior: peer ids are derived from the seed and the name', async () => {
    const a = await libp2pPrivateKey(1, 'registry');
    const b = await libp2pPrivateKey(1, 'registry');
    const c = await libp2pPrivateKey(2, 'registry');
    const d = await libp2pPrivateKey(1, 'op00');
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    expect(a.equals(d)).toBe(false);
  });

  test('behavior: gossip reaches subscribers one link latency later in virtual time, however long the bytes take', async () => {
    const { clock, fabric } = setup(20);
    const [hub, a, b] = await peersOf(fabric, 'hub', 'a', 'b');
    if (!hub || !a || !b) throw new Error('peers');
    const received: { peer: string; atMs: number; data: string }[] = [];
    for (const [name, peer] of [
      ['a', a],
      ['b', b],
    ] as const) {
      peer.subscribe(
        TOPICS.task,
        (message) => {
          received.push({
            peer: name,
            atMs: clock.now() - START_MS,
            data: new TextDecoder().decode(message.data),
          });
          return 'accept';
        },
        { maxMessageBytes: 1_000 },
      );
      // Every subscription is known to the hub before virtual time moves on.
      await connect(clock, fabric, peer, hub);
    }
    expect(hub.topicPeers(TOPICS.task).sort()).toEqual([a.peerId, b.peerId].sort());

    const publishedAtMs = clock.now() - START_MS;
    await hub.publish(TOPICS.task, text.encode('task 1'));
    await clock.advanceBy(1_000);
    expect(received.sort((x, y) => x.peer.localeCompare(y.peer))).toEqual([
      { peer: 'a', atMs: publishedAtMs + 20, data: 'task 1' },
      { peer: 'b', atMs: publishedAtMs + 20, data: 'task 1' },
    ]);
  });

  test('behavior: a request is answered after two link latencies; a silent handler times out on the virtual clock', async () => {
    const { clock, fabric } = setup(20);
    const [server, client] = await peersOf(fabric, 'server', 'client');
    if (!server || !client) throw new Error('peers');
    let handledAtMs = 0;
    await server.handle(
      PROTOCOLS.join,
      async (request) => {
        handledAtMs = clock.now() - START_MS;
        return text.encode(`ack ${new TextDecoder().decode(request.data)}`);
      },
      { maxRequestBytes: 1_000 },
    );
    await server.handle(
      PROTOCOLS.sync,
      async (request) => {
        await clock.sleep(60_000, { signal: request.signal });
        return new Uint8Array();
      },
      { maxRequestBytes: 1_000 },
    );

    const sentAtMs = clock.now() - START_MS;
    let answeredAtMs = 0;
    const answer = client
      .request(server.peerId, PROTOCOLS.join, text.encode('hi'), REQUEST)
      .then((bytes) => {
        answeredAtMs = clock.now() - START_MS;
        return new TextDecoder().decode(bytes);
      });
    await clock.advanceBy(1_000);
    expect(await answer).toBe('ack hi');
    expect(handledAtMs).toBe(sentAtMs + 20);
    expect(answeredAtMs).toBe(sentAtMs + 40);

    const wallStart = performance.now();
    const silentAtMs = clock.now() - START_MS;
    let failedAtMs = 0;
    const silent = client
      .request(server.peerId, PROTOCOLS.sync, text.encode('x'), REQUEST)
      .catch((error: unknown) => {
        failedAtMs = clock.now() - START_MS;
        return error;
      });
    await clock.advanceBy(5_000);
    const error = await silent;
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).code).toBe('REQUEST_TIMEOUT');
    expect(failedAtMs).toBe(silentAtMs + REQUEST.timeoutMs);
    expect(performance.now() - wallStart).toBeLessThan(REQUEST.timeoutMs);
  });

  test('behavior: a partition drops gossip and requests between groups until healed', async () => {
    const { clock, fabric } = setup(5);
    const [hub, near, far] = await peersOf(fabric, 'hub', 'near', 'far');
    if (!hub || !near || !far) throw new Error('peers');
    const got: string[] = [];
    for (const [name, peer] of [
      ['near', near],
      ['far', far],
    ] as const) {
      peer.subscribe(
        TOPICS.epoch,
        () => {
          got.push(name);
          return 'accept';
        },
        { maxMessageBytes: 1_000 },
      );
      await connect(clock, fabric, peer, hub);
    }
    await hub.handle(PROTOCOLS.health, async () => text.encode('ok'), { maxRequestBytes: 100 });

    fabric.partition([[hub.peerId, near.peerId], [far.peerId]]);
    await hub.publish(TOPICS.epoch, text.encode('epoch 1'));
    const refused = far
      .request(hub.peerId, PROTOCOLS.health, text.encode('?'), REQUEST)
      .catch((error: unknown) => error);
    await clock.advanceBy(3_000);
    expect(got).toEqual(['near']);
    expect((await refused) as NetworkError).toMatchObject({ code: 'PEER_UNREACHABLE' });

    fabric.heal();
    await hub.publish(TOPICS.epoch, text.encode('epoch 2'));
    const answered = far.request(hub.peerId, PROTOCOLS.health, text.encode('?'), REQUEST);
    await clock.advanceBy(1_000);
    expect(got.sort()).toEqual(['far', 'near', 'near']);
    expect(new TextDecoder().decode(await answered)).toBe('ok');
  });

  test('behavior: with total loss a request is never answered and times out; gossip is dropped', async () => {
    const { clock, fabric } = setup(5);
    const [server, client] = await peersOf(fabric, 'server', 'client');
    if (!server || !client) throw new Error('peers');
    let handled = 0;
    await server.handle(
      PROTOCOLS.health,
      async () => {
        handled++;
        return text.encode('ok');
      },
      { maxRequestBytes: 100 },
    );
    let gossiped = 0;
    client.subscribe(
      TOPICS.result,
      () => {
        gossiped++;
        return 'accept';
      },
      { maxMessageBytes: 100 },
    );
    await connect(clock, fabric, client, server);

    fabric.setConditions({ lossRate: 1 });
    const startedAtMs = clock.now();
    let failedAtMs = 0;
    const lost = client
      .request(server.peerId, PROTOCOLS.health, text.encode('?'), REQUEST)
      .catch((error: unknown) => {
        failedAtMs = clock.now();
        return error;
      });
    await server.publish(TOPICS.result, text.encode('result'));
    await clock.advanceBy(3_000);
    expect((await lost) as NetworkError).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    expect(failedAtMs - startedAtMs).toBe(REQUEST.timeoutMs);
    expect(handled).toBe(0);
    expect(gossiped).toBe(0);
    expect(fabric.stallCount()).toBe(0);
  });

  test('behavior: a stopped peer starts again with the same peer id and is reachable', async () => {
    const { clock, fabric } = setup(5);
    const [server, client] = await peersOf(fabric, 'server', 'client');
    if (!server || !client) throw new Error('peers');
    const serve = () =>
      server.handle(PROTOCOLS.health, async () => text.encode('up'), { maxRequestBytes: 100 });
    await serve();
    const peerId = server.peerId;
    await server.stop();
    const refused = client
      .request(peerId, PROTOCOLS.health, text.encode('?'), REQUEST)
      .catch((error: unknown) => error);
    await clock.advanceBy(1_000);
    expect(await refused).toBeInstanceOf(NetworkError);
    await server.start();
    await serve();
    expect(server.peerId).toBe(peerId);
    const answer = client.request(peerId, PROTOCOLS.health, text.encode('?'), REQUEST);
    await clock.advanceBy(1_000);
    expect(new TextDecoder().decode(await answer)).toBe('up');
  });
});
