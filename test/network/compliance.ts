import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  type ConnectionGate,
  type GossipHandler,
  type GossipMessage,
  type GossipVerdict,
  type Network,
  PROTOCOLS,
  type RequestHandler,
  TOPICS,
} from '../../src/ports/network.ts';
import { MessageTooLargeError, NetworkError } from '../../src/ports/network-errors.ts';
import type { Rejection } from '../../src/ports/rejections.ts';

/**
 * One behavioural suite for every Network adapter (libp2p over TCP, libp2p in memory, and the
 * simulator's network). The suite never sleeps or reads the clock: every wait goes through the
 * harness, so a virtual-time network can advance its clock instead of waiting.
 */
export interface NetworkHarness {
  /** Creates and starts `count` peers, not connected to each other. */
  createPeers(count: number): Promise<Network[]>;
  /**
   * Lets the network reach a steady state after a change of topology or subscriptions, and lets
   * any message in flight arrive (libp2p: a few gossipsub heartbeats; simulator: advance time).
   */
  settle(): Promise<void>;
  /** Resolves once `predicate` holds; fails, naming `description`, after the harness's bound. */
  waitFor(predicate: () => boolean, description: string): Promise<void>;
  /** Awaits one network operation (a virtual-time harness advances its clock until it settles). */
  complete<T>(operation: Promise<T>): Promise<T>;
  /** Stops every peer it created that is still running. */
  stopAll(): Promise<void>;
}

export type NetworkHarnessFactory = () => Promise<NetworkHarness>;

const TOPIC = TOPICS.task;
const OTHER_TOPIC = TOPICS.result;
const PROTOCOL = PROTOCOLS.health;
const MAX_MESSAGE_BYTES = 256;
const MAX_REQUEST_BYTES = 128;
const REQUEST = { timeoutMs: 2000, maxResponseBytes: 128 };

const text = new TextEncoder();
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Records what a peer's gossip handler saw, answering with `verdictFor`. */
function recordingHandler(verdictFor: (data: string) => GossipVerdict = () => 'accept'): {
  handler: GossipHandler;
  seen: GossipMessage[];
  seenTexts: () => string[];
} {
  const seen: GossipMessage[] = [];
  return {
    seen,
    seenTexts: () => seen.map((message) => decode(message.data)),
    handler: (message) => {
      seen.push(message);
      return verdictFor(decode(message.data));
    },
  };
}

async function expectNetworkError(
  harness: NetworkHarness,
  operation: Promise<unknown>,
  codes: readonly NetworkError['code'][],
): Promise<NetworkError> {
  const error = await harness.complete(operation).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(NetworkError);
  const networkError = error as NetworkError;
  expect(codes).toContain(networkError.code);
  return networkError;
}

export function describeNetworkCompliance(name: string, factory: NetworkHarnessFactory): void {
  describe(`Network compliance: ${name}`, () => {
    let harness: NetworkHarness;

    beforeEach(async () => {
      harness = await factory();
    });
    afterEach(async () => {
      await harness.stopAll();
    });

    async function connect(from: Network, to: Network): Promise<void> {
      const address = to.listenAddresses()[0];
      if (address === undefined) throw new Error(`peer ${to.peerId} listens nowhere`);
      expect(await harness.complete(from.dial(address))).toBe(to.peerId);
      await harness.waitFor(
        () =>
          from.connectedPeers().includes(to.peerId) && to.connectedPeers().includes(from.peerId),
        `${from.peerId} and ${to.peerId} connected`,
      );
    }

    /** peers[0] — peers[1] — … — peers[n-1]: messages must be forwarded hop by hop. */
    async function connectLine(peers: readonly Network[]): Promise<void> {
      for (let index = 0; index + 1 < peers.length; index++) {
        await connect(peers[index] as Network, peers[index + 1] as Network);
      }
    }

    /**
     * Waits until every peer of a line sees those of its neighbours that subscribed to TOPIC (all
     * but the first peer when `publisherSubscribed` is false), then lets meshes form.
     */
    async function awaitLineMesh(
      peers: readonly Network[],
      { publisherSubscribed }: { publisherSubscribed: boolean },
    ): Promise<void> {
      const subscribed = (peer: Network | undefined): peer is Network =>
        peer !== undefined && (publisherSubscribed || peer !== peers[0]);
      await harness.waitFor(
        () =>
          peers.every((peer, index) =>
            [peers[index - 1], peers[index + 1]]
              .filter(subscribed)
              .every((neighbour) => peer.topicPeers(TOPIC).includes(neighbour.peerId)),
          ),
        'every peer sees its subscribed neighbours',
      );
      await harness.settle();
    }

    describe('connections', () => {
      test('behavior: dial connects both ends, hangUp disconnects, and both ends hear of it', async () => {
        const [a, b] = (await harness.createPeers(2)) as [Network, Network];
        const events: string[] = [];
        a.setPeerEvents({
          onPeerConnected: (peer) => events.push(`a+${peer}`),
          onPeerDisconnected: (peer) => events.push(`a-${peer}`),
        });
        b.setPeerEvents({
          onPeerConnected: (peer) => events.push(`b+${peer}`),
          onPeerDisconnected: (peer) => events.push(`b-${peer}`),
        });
        expect(a.connectedPeers()).toEqual([]);

        await connect(a, b);
        await harness.waitFor(
          () => events.includes(`a+${b.peerId}`) && events.includes(`b+${a.peerId}`),
          'connect events on both ends',
        );
        expect(a.connectedPeers()).toEqual([b.peerId]);
        expect(b.connectedPeers()).toEqual([a.peerId]);

        await harness.complete(a.hangUp(b.peerId));
        await harness.waitFor(
          () => a.connectedPeers().length === 0 && b.connectedPeers().length === 0,
          'both ends disconnected',
        );
        await harness.waitFor(
          () => events.includes(`a-${b.peerId}`) && events.includes(`b-${a.peerId}`),
          'disconnect events on both ends',
        );
      });

      test('behavior: listen addresses are dialable and name the peer', async () => {
        const [a] = (await harness.createPeers(1)) as [Network];
        expect(a.listenAddresses().length).toBeGreaterThan(0);
        for (const address of a.listenAddresses()) expect(address).toContain(a.peerId);
      });

      test('behavior: dialing a stopped peer fails with PEER_UNREACHABLE', async () => {
        const [a, b] = (await harness.createPeers(2)) as [Network, Network];
        const address = b.listenAddresses()[0] as string;
        await harness.complete(b.stop());
        await expectNetworkError(harness, a.dial(address), ['PEER_UNREACHABLE']);
      });
    });

    describe('gossip', () => {
      test('behavior: a message crosses a line of 5 peers and reaches every other subscriber once', async () => {
        const peers = await harness.createPeers(5);
        await connectLine(peers);
        const recorders = peers.map(() => recordingHandler());
        peers.forEach((peer, index) => {
          peer.subscribe(TOPIC, (recorders[index] as ReturnType<typeof recordingHandler>).handler, {
            maxMessageBytes: MAX_MESSAGE_BYTES,
          });
        });
        await awaitLineMesh(peers, { publisherSubscribed: true });

        const publisher = peers[0] as Network;
        await harness.complete(publisher.publish(TOPIC, text.encode('hello')));
        await harness.waitFor(
          () => recorders.slice(1).every((recorder) => recorder.seen.length > 0),
          'the message reached peers 1..4',
        );
        await harness.settle();
        for (const recorder of recorders.slice(1)) {
          expect(recorder.seen).toHaveLength(1);
          expect(recorder.seen[0]).toMatchObject({ topic: TOPIC, from: publisher.peerId });
          expect(recorder.seenTexts()).toEqual(['hello']);
        }
        // The publisher's own handler does not see its own message.
        expect(recorders[0]?.seen).toEqual([]);
      });

      test('behavior: a hub forwards between the leaves of a star', async () => {
        const [hub, ...leaves] = (await harness.createPeers(4)) as [Network, ...Network[]];
        for (const leaf of leaves) await connect(leaf, hub);
        const recorders = leaves.map(() => recordingHandler());
        hub.subscribe(TOPIC, () => 'accept', { maxMessageBytes: MAX_MESSAGE_BYTES });
        leaves.forEach((leaf, index) => {
          leaf.subscribe(TOPIC, (recorders[index] as ReturnType<typeof recordingHandler>).handler, {
            maxMessageBytes: MAX_MESSAGE_BYTES,
          });
        });
        await harness.waitFor(
          () => hub.topicPeers(TOPIC).length === leaves.length,
          'the hub sees every leaf subscribed',
        );
        await harness.settle();

        await harness.complete((leaves[0] as Network).publish(TOPIC, text.encode('from a leaf')));
        await harness.waitFor(
          () => recorders.slice(1).every((recorder) => recorder.seen.length === 1),
          'the other leaves received it',
        );
        expect(recorders[0]?.seen).toEqual([]);
      });

      for (const verdict of ['reject', 'ignore', 'throw'] as const) {
        test(`behavior: a message the middle peer judges "${verdict}" is not forwarded`, async () => {
          const [source, middle, far] = (await harness.createPeers(3)) as [
            Network,
            Network,
            Network,
          ];
          await connectLine([source, middle, far]);
          const middleSaw: string[] = [];
          middle.subscribe(
            TOPIC,
            (message) => {
              const data = decode(message.data);
              middleSaw.push(data);
              if (!data.startsWith('bad')) return 'accept';
              if (verdict === 'throw') throw new Error('handler failure');
              return verdict;
            },
            { maxMessageBytes: MAX_MESSAGE_BYTES },
          );
          const farRecorder = recordingHandler();
          far.subscribe(TOPIC, farRecorder.handler, { maxMessageBytes: MAX_MESSAGE_BYTES });
          await awaitLineMesh([source, middle, far], { publisherSubscribed: false });

          await harness.complete(source.publish(TOPIC, text.encode('bad message')));
          await harness.complete(source.publish(TOPIC, text.encode('good message')));
          await harness.waitFor(
            () => farRecorder.seenTexts().includes('good message'),
            'the good message crossed the line',
          );
          await harness.settle();
          expect(middleSaw).toEqual(['bad message', 'good message']);
          expect(farRecorder.seenTexts()).toEqual(['good message']);
        });
      }

      test('behavior: a message over the subscriber’s maxMessageBytes is rejected unseen', async () => {
        const [source, middle, far] = (await harness.createPeers(3)) as [Network, Network, Network];
        await connectLine([source, middle, far]);
        const middleRecorder = recordingHandler();
        const farRecorder = recordingHandler();
        middle.subscribe(TOPIC, middleRecorder.handler, { maxMessageBytes: MAX_MESSAGE_BYTES });
        far.subscribe(TOPIC, farRecorder.handler, { maxMessageBytes: 4 * MAX_MESSAGE_BYTES });
        await awaitLineMesh([source, middle, far], { publisherSubscribed: false });

        const oversize = 'x'.repeat(MAX_MESSAGE_BYTES + 1);
        const atLimit = 'y'.repeat(MAX_MESSAGE_BYTES);
        await harness.complete(source.publish(TOPIC, text.encode(oversize)));
        await harness.complete(source.publish(TOPIC, text.encode(atLimit)));
        await harness.waitFor(
          () => farRecorder.seenTexts().includes(atLimit),
          'the message at the limit crossed the line',
        );
        await harness.settle();
        expect(middleRecorder.seenTexts()).toEqual([atLimit]);
        // `far` would have accepted the oversize message, but `middle` did not forward it.
        expect(farRecorder.seenTexts()).toEqual([atLimit]);
      });

      test('behavior: after unsubscribe a peer receives nothing on the topic', async () => {
        const [hub, leaving, staying] = (await harness.createPeers(3)) as [
          Network,
          Network,
          Network,
        ];
        await connect(leaving, hub);
        await connect(staying, hub);
        const leavingRecorder = recordingHandler();
        const stayingRecorder = recordingHandler();
        leaving.subscribe(TOPIC, leavingRecorder.handler, { maxMessageBytes: MAX_MESSAGE_BYTES });
        staying.subscribe(TOPIC, stayingRecorder.handler, { maxMessageBytes: MAX_MESSAGE_BYTES });
        // A second subscription of the leaving peer must stay untouched.
        const otherRecorder = recordingHandler();
        leaving.subscribe(OTHER_TOPIC, otherRecorder.handler, {
          maxMessageBytes: MAX_MESSAGE_BYTES,
        });
        await harness.waitFor(
          () =>
            hub.topicPeers(TOPIC).length === 2 &&
            hub.topicPeers(OTHER_TOPIC).includes(leaving.peerId),
          'the hub sees both subscribers',
        );
        await harness.settle();

        await harness.complete(hub.publish(TOPIC, text.encode('before')));
        await harness.waitFor(
          () => leavingRecorder.seen.length === 1 && stayingRecorder.seen.length === 1,
          'both subscribers received the first message',
        );

        leaving.unsubscribe(TOPIC);
        await harness.waitFor(
          () => !hub.topicPeers(TOPIC).includes(leaving.peerId),
          'the hub saw the unsubscription',
        );
        await harness.settle();
        await harness.complete(hub.publish(TOPIC, text.encode('after')));
        await harness.complete(hub.publish(OTHER_TOPIC, text.encode('other topic')));
        await harness.waitFor(
          () =>
            stayingRecorder.seenTexts().includes('after') &&
            otherRecorder.seenTexts().includes('other topic'),
          'the remaining subscribers received the second messages',
        );
        await harness.settle();
        expect(leavingRecorder.seenTexts()).toEqual(['before']);
      });
    });

    describe('request/response', () => {
      async function connectedPair(
        handler?: RequestHandler,
      ): Promise<{ caller: Network; server: Network }> {
        const [caller, server] = (await harness.createPeers(2)) as [Network, Network];
        await connect(caller, server);
        if (handler !== undefined) {
          await harness.complete(
            server.handle(PROTOCOL, handler, { maxRequestBytes: MAX_REQUEST_BYTES }),
          );
        }
        return { caller, server };
      }

      test('behavior: one request, one response, with the caller and protocol identified', async () => {
        const { caller, server } = await connectedPair(async (request) =>
          text.encode(`${request.protocol} from ${request.from}: ${decode(request.data)}`),
        );
        const response = await harness.complete(
          caller.request(server.peerId, PROTOCOL, text.encode('ping'), REQUEST),
        );
        expect(decode(response)).toBe(`${PROTOCOL} from ${caller.peerId}: ping`);

        // Empty messages are messages too.
        await harness.complete(
          server.handle(PROTOCOL, async () => new Uint8Array(0), {
            maxRequestBytes: MAX_REQUEST_BYTES,
          }),
        );
        const empty = await harness.complete(
          caller.request(server.peerId, PROTOCOL, new Uint8Array(0), REQUEST),
        );
        expect(empty).toEqual(new Uint8Array(0));
      });

      test('behavior: a request over maxRequestBytes is refused before the handler runs', async () => {
        let handlerCalls = 0;
        const { caller, server } = await connectedPair(async (request) => {
          handlerCalls += 1;
          return request.data;
        });
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(MAX_REQUEST_BYTES + 1), REQUEST),
          ['REQUEST_FAILED', 'MESSAGE_TOO_LARGE'],
        );
        expect(handlerCalls).toBe(0);
        // A request at the limit is served.
        const atLimit = new Uint8Array(MAX_REQUEST_BYTES).fill(7);
        const echoed = await harness.complete(
          caller.request(server.peerId, PROTOCOL, atLimit, { ...REQUEST, maxResponseBytes: 1024 }),
        );
        expect(echoed).toEqual(atLimit);
        expect(handlerCalls).toBe(1);
      });

      test('behavior: a response over maxResponseBytes is refused with MessageTooLargeError', async () => {
        const { caller, server } = await connectedPair(async () => new Uint8Array(101));
        const error = await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), {
            ...REQUEST,
            maxResponseBytes: 100,
          }),
          ['MESSAGE_TOO_LARGE'],
        );
        expect(error).toBeInstanceOf(MessageTooLargeError);
        expect(error).toMatchObject({ sizeBytes: 101, limitBytes: 100 });
      });

      test('behavior: no answer within timeoutMs fails with REQUEST_TIMEOUT', async () => {
        const { caller, server } = await connectedPair(
          (request) =>
            new Promise<Uint8Array>((_resolve, reject) => {
              request.signal.addEventListener('abort', () => reject(request.signal.reason));
            }),
        );
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), {
            ...REQUEST,
            timeoutMs: 300,
          }),
          ['REQUEST_TIMEOUT'],
        );
      });

      test('behavior: a handler that throws fails the request', async () => {
        const { caller, server } = await connectedPair(async () => {
          throw new Error('handler failure');
        });
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST),
          ['REQUEST_FAILED'],
        );
      });

      test('behavior: a protocol without a handler fails with NO_HANDLER, also after unhandle', async () => {
        const { caller, server } = await connectedPair();
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST),
          ['NO_HANDLER'],
        );
        await harness.complete(
          server.handle(PROTOCOL, async (request) => request.data, {
            maxRequestBytes: MAX_REQUEST_BYTES,
          }),
        );
        await harness.complete(caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST));
        await harness.complete(server.unhandle(PROTOCOL));
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST),
          ['NO_HANDLER'],
        );
      });

      test('behavior: a request to a stopped peer fails with PEER_UNREACHABLE', async () => {
        const { caller, server } = await connectedPair(async (request) => request.data);
        await harness.complete(server.stop());
        await harness.waitFor(
          () => !caller.connectedPeers().includes(server.peerId),
          'the caller saw the server go',
        );
        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST),
          ['PEER_UNREACHABLE'],
        );
      });
    });

    describe('connection gate', () => {
      /** A gate refusing the peers in `refused` outright and (peer, channel) pairs in `muted`. */
      function testGate() {
        const refused = new Set<string>();
        const muted = new Set<string>();
        const rejections: Rejection[] = [];
        const gate: ConnectionGate = {
          refusePeer: (peer) => (refused.has(peer) ? 'blacklisted' : undefined),
          refuseMessage: (peer, channel) =>
            refused.has(peer)
              ? 'blacklisted'
              : muted.has(`${peer} ${channel}`)
                ? 'rate_limited'
                : undefined,
          isRefused: (peer) => refused.has(peer),
          onRejected: (rejection) => rejections.push(rejection),
        };
        return { gate, refused, muted, rejections };
      }

      test('behavior: a refused peer cannot connect, inbound or outbound; others can', async () => {
        const [guarded, banned, other] = (await harness.createPeers(3)) as [
          Network,
          Network,
          Network,
        ];
        const { gate, refused } = testGate();
        refused.add(banned.peerId);
        guarded.setConnectionGate(gate);

        // Inbound: libp2p's dialer may finish its handshake before the gated side closes, so the
        // dial may appear to succeed; either way no connection remains.
        const inbound = await harness
          .complete(banned.dial(guarded.listenAddresses()[0] as string))
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        if (inbound !== undefined) expect((inbound as NetworkError).code).toBe('PEER_UNREACHABLE');
        await harness.waitFor(
          () =>
            !banned.connectedPeers().includes(guarded.peerId) &&
            !guarded.connectedPeers().includes(banned.peerId),
          'no connection between the guarded and the banned peer',
        );
        // Outbound: refused before dialling.
        await expectNetworkError(harness, guarded.dial(banned.listenAddresses()[0] as string), [
          'PEER_UNREACHABLE',
        ]);
        await connect(other, guarded);
        await harness.settle();
        expect(guarded.connectedPeers()).toEqual([other.peerId]);
      });

      test('behavior: after a hang-up the gate keeps a newly banned peer out, and admits it once lifted', async () => {
        const [guarded, peer] = (await harness.createPeers(2)) as [Network, Network];
        const { gate, refused } = testGate();
        guarded.setConnectionGate(gate);
        await connect(peer, guarded);

        refused.add(peer.peerId);
        await harness.complete(guarded.hangUp(peer.peerId));
        await harness.waitFor(() => guarded.connectedPeers().length === 0, 'disconnected');
        await harness
          .complete(peer.dial(guarded.listenAddresses()[0] as string))
          .catch(() => undefined);
        await harness.waitFor(
          () => !guarded.connectedPeers().includes(peer.peerId),
          'the banned peer did not get back in',
        );
        await expectNetworkError(
          harness,
          peer.request(guarded.peerId, PROTOCOL, text.encode('x'), REQUEST),
          ['PEER_UNREACHABLE', 'REQUEST_FAILED', 'NO_HANDLER'],
        );

        refused.delete(peer.peerId);
        await connect(guarded, peer);
      });

      test('behavior: refusePeer is asked per connection, not per message (a refusal is counted once)', async () => {
        const [server, caller] = (await harness.createPeers(2)) as [Network, Network];
        const { gate } = testGate();
        let peerChecks = 0;
        let messageChecks = 0;
        server.setConnectionGate({
          ...gate,
          refusePeer: (peer) => {
            if (peer === caller.peerId) peerChecks++;
            return gate.refusePeer(peer);
          },
          refuseMessage: (peer, channel) => {
            if (peer === caller.peerId) messageChecks++;
            return gate.refuseMessage(peer, channel);
          },
        });
        await harness.complete(
          server.handle(PROTOCOL, async (request) => request.data, {
            maxRequestBytes: MAX_REQUEST_BYTES,
          }),
        );
        await connect(caller, server);
        await harness.settle();
        const checksWhenConnected = peerChecks;
        for (let index = 0; index < 3; index++) {
          await harness.complete(
            caller.request(server.peerId, PROTOCOL, text.encode(`m${index}`), REQUEST),
          );
        }
        expect(messageChecks).toBe(3);
        expect(peerChecks).toBe(checksWhenConnected);
      });

      test('behavior: a request the gate refuses never reaches the handler; other callers are served', async () => {
        const [server, muted, honest] = (await harness.createPeers(3)) as [
          Network,
          Network,
          Network,
        ];
        const { gate, muted: mutedPairs } = testGate();
        server.setConnectionGate(gate);
        const callers: string[] = [];
        await harness.complete(
          server.handle(
            PROTOCOL,
            async (request) => {
              callers.push(request.from);
              return request.data;
            },
            { maxRequestBytes: MAX_REQUEST_BYTES },
          ),
        );
        await connect(muted, server);
        await connect(honest, server);
        mutedPairs.add(`${muted.peerId} ${PROTOCOL}`);

        await expectNetworkError(
          harness,
          muted.request(server.peerId, PROTOCOL, text.encode('x'), REQUEST),
          ['REQUEST_FAILED'],
        );
        const answer = await harness.complete(
          honest.request(server.peerId, PROTOCOL, text.encode('ok'), REQUEST),
        );
        expect(decode(answer)).toBe('ok');
        expect(callers).toEqual([honest.peerId]);
      });

      test('behavior: gossip from an author the gate refuses on that topic is dropped; others pass', async () => {
        const [subscriber, muted, honest] = (await harness.createPeers(3)) as [
          Network,
          Network,
          Network,
        ];
        const { gate, muted: mutedPairs } = testGate();
        subscriber.setConnectionGate(gate);
        await connect(muted, subscriber);
        await connect(honest, subscriber);
        const recorder = recordingHandler();
        subscriber.subscribe(TOPIC, recorder.handler, { maxMessageBytes: MAX_MESSAGE_BYTES });
        muted.subscribe(TOPIC, () => 'accept', { maxMessageBytes: MAX_MESSAGE_BYTES });
        honest.subscribe(TOPIC, () => 'accept', { maxMessageBytes: MAX_MESSAGE_BYTES });
        await harness.waitFor(
          () => subscriber.topicPeers(TOPIC).length === 2,
          'the subscriber sees both publishers',
        );
        await harness.waitFor(
          () =>
            muted.topicPeers(TOPIC).includes(subscriber.peerId) &&
            honest.topicPeers(TOPIC).includes(subscriber.peerId),
          'both publishers see the subscriber',
        );
        await harness.settle();
        mutedPairs.add(`${muted.peerId} ${TOPIC}`);

        await harness.complete(muted.publish(TOPIC, text.encode('flood')));
        await harness.complete(honest.publish(TOPIC, text.encode('honest')));
        await harness.waitFor(() => recorder.seen.length > 0, 'the honest message arrived');
        await harness.settle();
        expect(recorder.seenTexts()).toEqual(['honest']);
      });

      test('behavior: oversize requests and gossip are reported to the gate as oversize', async () => {
        const [server, caller] = (await harness.createPeers(2)) as [Network, Network];
        const { gate, rejections } = testGate();
        server.setConnectionGate(gate);
        await harness.complete(
          server.handle(PROTOCOL, async (request) => request.data, {
            maxRequestBytes: MAX_REQUEST_BYTES,
          }),
        );
        server.subscribe(TOPIC, () => 'accept', { maxMessageBytes: MAX_MESSAGE_BYTES });
        caller.subscribe(TOPIC, () => 'accept', { maxMessageBytes: 4 * MAX_MESSAGE_BYTES });
        await connect(caller, server);
        await harness.waitFor(
          () => caller.topicPeers(TOPIC).includes(server.peerId),
          'the caller sees the server subscribed',
        );
        await harness.settle();

        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(MAX_REQUEST_BYTES + 1), REQUEST),
          ['REQUEST_FAILED', 'MESSAGE_TOO_LARGE'],
        );
        await harness.complete(caller.publish(TOPIC, new Uint8Array(MAX_MESSAGE_BYTES + 1)));
        await harness.waitFor(() => rejections.length >= 2, 'both rejections reported');
        expect(rejections).toEqual(
          expect.arrayContaining([
            { reason: 'oversize', channel: PROTOCOL, peer: caller.peerId },
            { reason: 'oversize', channel: TOPIC, peer: caller.peerId },
          ]),
        );
      });
    });

    describe('lifecycle', () => {
      test('behavior: stop() fails pending requests with NETWORK_STOPPED and refuses new calls', async () => {
        const [caller, server] = (await harness.createPeers(2)) as [Network, Network];
        await connect(caller, server);
        let handlerStarted = false;
        await harness.complete(
          server.handle(
            PROTOCOL,
            (request) =>
              new Promise<Uint8Array>((_resolve, reject) => {
                handlerStarted = true;
                request.signal.addEventListener('abort', () => reject(request.signal.reason));
              }),
            { maxRequestBytes: MAX_REQUEST_BYTES },
          ),
        );
        const pending = caller.request(server.peerId, PROTOCOL, new Uint8Array(1), {
          ...REQUEST,
          timeoutMs: 10_000,
        });
        const outcome = pending.then(
          () => undefined,
          (error: unknown) => error,
        );
        await harness.waitFor(() => handlerStarted, 'the handler received the request');
        await harness.complete(caller.stop());
        const error = await harness.complete(outcome);
        expect(error).toBeInstanceOf(NetworkError);
        expect((error as NetworkError).code).toBe('NETWORK_STOPPED');

        await expectNetworkError(
          harness,
          caller.request(server.peerId, PROTOCOL, new Uint8Array(1), REQUEST),
          ['NETWORK_STOPPED'],
        );
        await expectNetworkError(harness, caller.publish(TOPIC, new Uint8Array(1)), [
          'NETWORK_STOPPED',
        ]);
        expect(caller.connectedPeers()).toEqual([]);
        // Stopping twice is harmless.
        await harness.complete(caller.stop());
      });
    });
  });
}
