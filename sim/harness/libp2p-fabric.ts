import { createHash } from 'node:crypto';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { hexToBytes } from 'viem';
import { createLibp2pNetwork } from '../../src/adapters/network-libp2p/libp2p-network.ts';
import {
  DEFAULT_LINK_CONDITIONS,
  type LinkConditions,
  type SimTraceEvent,
} from '../../src/adapters/network-sim/sim-network.ts';
import type { Clock, TimerHandle } from '../../src/ports/clock.ts';
import type {
  ConnectionGate,
  GossipHandler,
  GossipVerdict,
  InboundRequest,
  Network,
  PeerEvents,
  PeerId,
  Protocol,
  RequestHandler,
  Topic,
} from '../../src/ports/network.ts';
import { NetworkError } from '../../src/ports/network-errors.ts';
import type { Rng } from '../../src/ports/rng.ts';
import type { ClusterNetwork } from './cluster-network.ts';
import { createInFlightTracker, type TrackedWork } from './in-flight-tracker.ts';
import { deriveKey } from './keys.ts';

/**
 * The simulator on the real libp2p stack: every peer is a `createLibp2pNetwork` node on the
 * in-process memory transport (gossipsub, Noise, yamux, identify), with an Ed25519 key derived
 * from the seed so peer ids are the same on every run.
 *
 * libp2p moves bytes in real time while node code runs on the virtual clock. Each peer's Network
 * is wrapped so that:
 * - real-time work is counted in one tracker and `settle()` waits for it: a request from send
 *   until the handler receives it and again from the handler's answer until the caller has it; a
 *   published message until every subscribed peer the publisher knows has received it; dials,
 *   starts and stops; subscriptions until the peers connected to the subscriber know of them.
 *   Virtual time therefore stands still while bytes cross, as on the sim network between a send
 *   and its scheduled delivery. Work counted for longer than a wall-time bound (a lost message)
 *   stops holding time and is counted as a stall, which the run summary reports;
 * - the scenario's link faults mean what they mean on the sim network, applied by the receiving
 *   wrapper on the virtual clock: latency and jitter delay each delivery, loss drops it (a
 *   dropped request is never answered, so the caller waits out its timeout), duplication hands a
 *   request to its handler twice, and partitions drop gossip and requests between groups;
 * - request timeouts run on the virtual clock (the node's `timeoutMs` is virtual time).
 *
 * Differences from the sim network: loss applies once per receiving node (gossipsub drops a
 * message's later copies as seen), not once per hop; and traces are not reproducible, since
 * libp2p's own timing decides interleavings at one virtual instant.
 */

export interface Libp2pFabricOptions {
  /** The run's virtual clock (not a node's skewed view of it). */
  clock: Clock;
  /** Draws delays, loss and duplication. */
  rng: Rng;
  /** Derives each peer's libp2p key: same seed and name, same peer id. */
  seed: number;
  conditions?: Partial<LinkConditions>;
  onTrace?: (event: FabricTraceEvent) => void;
  /** Wall ms after which one undelivered message stops holding virtual time (default 10000). */
  stallAfterMs?: number;
  /** Gossipsub heartbeat, wall ms (default 1000, gossipsub's own; delivery is by flood publish). */
  heartbeatIntervalMs?: number;
}

export type FabricTraceEvent =
  | SimTraceEvent
  | { kind: 'stall'; atMs: number; what: string; wallMs: number };

/** A real-time bound on one request exchange; the node's own timeout (virtual) comes first. */
const REAL_REQUEST_LIMIT_MS = 120_000;
/**
 * Gossip judgements and inbound requests may wait for virtual time (the link delay) before the
 * node's handler runs; the adapter's real-time bounds on them must not cut that short.
 */
const REAL_HANDLER_LIMIT_MS = 120_000;
const DEFAULT_STALL_AFTER_MS = 10_000;
/** How often (wall ms) pending subscription exchanges are re-checked. */
const CONDITION_POLL_INTERVAL_MS = 5;
/** The stall bound while the cluster starts (every node handshakes at once). */
const STARTUP_STALL_AFTER_MS = 300_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

interface FabricPeer {
  name: string;
  peerId: PeerId;
  privateKey: PrivateKey;
  inner: Network | undefined;
  innerStopped: boolean;
  running: boolean;
  events: PeerEvents;
  /** The node's connection gate, handed to each libp2p node this peer starts. */
  gate?: ConnectionGate | undefined;
  /** Topics its node subscribed to through the wrapper. */
  subscriptions: Set<Topic>;
  /** Wrapper-level requests, failed with NETWORK_STOPPED when the peer stops. */
  pending: Set<(error: Error) => void>;
}

/** One message on its way, matched by its receiver from (sender, receiver, channel, bytes). */
interface Expectation {
  key: string;
  receiver: PeerId;
  channel: string;
  work: TrackedWork;
  /** Set by a receiver that dropped a request: its caller waits for its own timeout. */
  dropped: boolean;
}

export interface Libp2pFabric extends ClusterNetwork {
  /** A peer's name in traces, from its id. */
  peerName(peerId: PeerId): string;
  /** Counted work right now (stalled work included). */
  inFlight(): number;
}

/** The libp2p identity of peer `name` in runs of `seed`. */
export async function libp2pPrivateKey(seed: number, name: string): Promise<PrivateKey> {
  const seedBytes = hexToBytes(deriveKey(seed, `libp2p:${name}`));
  return generateKeyPairFromSeed('Ed25519', seedBytes);
}

export function createLibp2pFabric(options: Libp2pFabricOptions): Libp2pFabric {
  const { clock, rng } = options;
  const stallAfterMs = options.stallAfterMs ?? DEFAULT_STALL_AFTER_MS;
  let conditions: LinkConditions = { ...DEFAULT_LINK_CONDITIONS, ...options.conditions };
  const peers = new Map<PeerId, FabricPeer>();
  let groupOf = new Map<PeerId, number>();
  const expected = new Map<string, Expectation[]>();
  const trace = (event: FabricTraceEvent) => options.onTrace?.(event);
  const tracker = createInFlightTracker({
    stallAfterMs,
    pollIntervalMs: CONDITION_POLL_INTERVAL_MS,
    onStall: (what, wallMs) => trace({ kind: 'stall', atMs: clock.now(), what, wallMs }),
  });

  const nameOf = (peerId: PeerId) => peers.get(peerId)?.name ?? peerId;
  const reachable = (a: PeerId, b: PeerId) => (groupOf.get(a) ?? -1) === (groupOf.get(b) ?? -1);
  const delayMs = () =>
    conditions.latencyMs + (conditions.jitterMs > 0 ? rng.next() * conditions.jitterMs : 0);
  const lost = () => conditions.lossRate > 0 && rng.next() < conditions.lossRate;
  const duplicated = () => conditions.duplicateRate > 0 && rng.next() < conditions.duplicateRate;
  const drop = (from: PeerId, to: PeerId, what: string, reason: 'loss' | 'partition' | 'stopped') =>
    trace({ kind: 'drop', atMs: clock.now(), from: nameOf(from), to: nameOf(to), what, reason });

  const digest = (data: Uint8Array) => createHash('sha256').update(data).digest('base64');
  const keyOf = (from: PeerId, to: PeerId, channel: string, data: Uint8Array) =>
    `${from}>${to}>${channel}>${digest(data)}`;

  function expect(
    from: PeerId,
    to: PeerId,
    channel: string,
    data: Uint8Array,
    label: string,
  ): Expectation {
    const key = keyOf(from, to, channel, data);
    const entry: Expectation = {
      key,
      receiver: to,
      channel,
      work: tracker.begin(label),
      dropped: false,
    };
    const queue = expected.get(key);
    if (queue) queue.push(entry);
    else expected.set(key, [entry]);
    return entry;
  }

  function take(
    from: PeerId,
    to: PeerId,
    channel: string,
    data: Uint8Array,
  ): Expectation | undefined {
    const key = keyOf(from, to, channel, data);
    const queue = expected.get(key);
    const entry = queue?.shift();
    if (queue?.length === 0) expected.delete(key);
    return entry;
  }

  function forget(entry: Expectation) {
    entry.work.end();
    const queue = expected.get(entry.key);
    if (!queue) return;
    const index = queue.indexOf(entry);
    if (index !== -1) queue.splice(index, 1);
    if (queue.length === 0) expected.delete(entry.key);
  }

  /** Stops waiting for messages to `receiver` (on `channel`, or on every channel). */
  function forgetReceiver(receiver: PeerId, channel?: string) {
    for (const queue of [...expected.values()]) {
      for (const entry of [...queue]) {
        if (entry.receiver === receiver && (channel === undefined || entry.channel === channel))
          forget(entry);
      }
    }
  }

  /**
   * What a peer's libp2p node knows (connected peers, topic peers), read once per synchronous
   * sweep of the tracker's conditions: with a hundred nodes there are thousands of conditions,
   * and each read of libp2p's lists encodes every peer id afresh.
   */
  const views = new Map<
    FabricPeer,
    { connected: Set<PeerId>; topicPeers: Map<Topic, Set<PeerId>> }
  >();
  function viewOf(peer: FabricPeer, inner: Network) {
    let view = views.get(peer);
    if (view === undefined) {
      if (views.size === 0) queueMicrotask(() => views.clear());
      view = { connected: new Set(inner.connectedPeers()), topicPeers: new Map() };
      views.set(peer, view);
    }
    return {
      connected: view.connected,
      topicPeers(topic: Topic): Set<PeerId> {
        let peersOfTopic = view.topicPeers.get(topic);
        if (peersOfTopic === undefined) {
          peersOfTopic = new Set(inner.topicPeers(topic));
          view.topicPeers.set(topic, peersOfTopic);
        }
        return peersOfTopic;
      },
    };
  }

  /** Counts until `observer` lists `subscriber` among the peers of each of its topics. */
  function awaitSubscriptionsKnown(subscriber: FabricPeer, observer: FabricPeer) {
    for (const topic of subscriber.subscriptions) {
      tracker.waitFor(
        `subscription ${topic} of ${subscriber.name} known to ${observer.name}`,
        () => {
          if (!subscriber.running || !observer.running || !subscriber.subscriptions.has(topic))
            return true;
          if (observer.inner === undefined) return true;
          const view = viewOf(observer, observer.inner);
          return (
            !view.connected.has(subscriber.peerId) || view.topicPeers(topic).has(subscriber.peerId)
          );
        },
      );
    }
  }

  async function counted<T>(label: string, work: () => Promise<T>): Promise<T> {
    const entry = tracker.begin(label);
    try {
      return await work();
    } finally {
      entry.end();
    }
  }

  function wrap(peer: FabricPeer): Network {
    const self = peer.peerId;
    const stoppedError = (action: string) =>
      new NetworkError('NETWORK_STOPPED', `${peer.name}: cannot ${action}: the peer is stopped`);
    const inner = (action: string): Network => {
      if (!peer.running || peer.inner === undefined) throw stoppedError(action);
      return peer.inner;
    };

    function wrapGossipHandler(topic: Topic, handler: GossipHandler): GossipHandler {
      return async (message): Promise<GossipVerdict> => {
        take(message.from, self, topic, message.data)?.work.end();
        if (!peer.running || !peer.subscriptions.has(topic)) return 'ignore';
        const what = `gossip ${topic}`;
        if (!reachable(message.from, self)) {
          drop(message.from, self, what, 'partition');
          return 'ignore';
        }
        if (lost()) {
          drop(message.from, self, what, 'loss');
          return 'ignore';
        }
        await clock.sleep(delayMs());
        if (!peer.running || !peer.subscriptions.has(topic)) {
          drop(message.from, self, what, 'stopped');
          return 'ignore';
        }
        if (!reachable(message.from, self)) {
          drop(message.from, self, what, 'partition');
          return 'ignore';
        }
        trace({
          kind: 'gossip',
          atMs: clock.now(),
          from: nameOf(message.from),
          to: peer.name,
          topic,
          bytes: message.data.length,
          origin: nameOf(message.from),
        });
        return handler(message);
      };
    }

    function wrapRequestHandler(protocol: Protocol, handler: RequestHandler): RequestHandler {
      /** A dropped request: never answered; the caller's timeout ends it (and our stream). */
      const hold = (request: InboundRequest, entry: Expectation | undefined) => {
        if (entry) entry.dropped = true;
        return new Promise<never>((_resolve, reject) => {
          if (request.signal.aborted) reject(request.signal.reason);
          request.signal.addEventListener('abort', () => reject(request.signal.reason), {
            once: true,
          });
        });
      };
      return async (request) => {
        const entry = take(request.from, self, protocol, request.data);
        entry?.work.pause();
        try {
          const what = `request ${protocol}`;
          if (!peer.running) throw stoppedError(`answer ${protocol}`);
          if (!reachable(request.from, self)) {
            drop(request.from, self, what, 'partition');
            return await hold(request, entry);
          }
          if (lost()) {
            drop(request.from, self, what, 'loss');
            return await hold(request, entry);
          }
          const twice = duplicated();
          await clock.sleep(delayMs(), { signal: request.signal });
          if (!peer.running) throw stoppedError(`answer ${protocol}`);
          if (!reachable(request.from, self)) {
            drop(request.from, self, what, 'partition');
            return await hold(request, entry);
          }
          if (twice) {
            // The copy's answer goes nowhere, as a duplicate's answer does on the sim network.
            clock.setTimer(delayMs(), () => {
              if (!peer.running) return;
              void handler({ ...request, signal: new AbortController().signal }).catch(() => {});
            });
          }
          return await handler(request);
        } finally {
          // The answer (or the reset) is on its way back: counted until the caller has it.
          entry?.work.resume();
        }
      };
    }

    const network: Network = {
      peerId: self,

      /** A stopped peer starts again as a new libp2p node with the same key (same peer id). */
      async start() {
        if (peer.running) return;
        await counted(`start ${peer.name}`, async () => {
          if (peer.inner === undefined || peer.innerStopped) {
            peer.inner = await createLibp2pNetwork({
              transport: 'memory',
              privateKey: peer.privateKey,
              gossip: {
                heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
                handlerTimeoutMs: REAL_HANDLER_LIMIT_MS,
              },
              requests: { inboundTimeoutMs: REAL_HANDLER_LIMIT_MS },
            });
            peer.innerStopped = false;
          }
          peer.inner.setPeerEvents(peer.events);
          peer.inner.setConnectionGate(peer.gate);
          await peer.inner.start();
          peer.running = true;
        });
      },

      async stop() {
        if (!peer.running) return;
        peer.running = false;
        peer.subscriptions.clear();
        forgetReceiver(self);
        for (const fail of [...peer.pending]) fail(stoppedError('finish a request'));
        peer.pending.clear();
        const current = peer.inner;
        peer.innerStopped = true;
        if (current) await counted(`stop ${peer.name}`, () => current.stop());
      },

      listenAddresses() {
        if (!peer.running || peer.inner === undefined) return [];
        return peer.inner
          .listenAddresses()
          .map((address) => (address.includes('/p2p/') ? address : `${address}/p2p/${self}`));
      },

      async dial(address, dialOptions) {
        const node = inner('dial');
        const target = address.split('/p2p/').at(-1) ?? '';
        const known = peers.get(target);
        if (known && !reachable(self, target)) {
          await clock.sleep(delayMs(), dialOptions);
          throw new NetworkError('PEER_UNREACHABLE', `cannot reach ${address}`);
        }
        const reached = await counted(`dial ${peer.name}→${nameOf(target)}`, () =>
          node.dial(address, dialOptions),
        );
        const other = peers.get(reached);
        if (other) {
          awaitSubscriptionsKnown(peer, other);
          awaitSubscriptionsKnown(other, peer);
        }
        // One round trip of virtual time, as connection setup takes on the sim network.
        await clock.sleep(2 * delayMs(), dialOptions);
        return reached;
      },

      async hangUp(other) {
        await inner('hang up').hangUp(other);
      },

      connectedPeers: () => (peer.running ? (peer.inner?.connectedPeers() ?? []) : []),

      setPeerEvents(events) {
        peer.events = events;
        peer.inner?.setPeerEvents(events);
      },

      setConnectionGate(gate) {
        peer.gate = gate;
        peer.inner?.setConnectionGate(gate);
      },

      subscribe(topic, handler, subscribeOptions) {
        const node = inner(`subscribe to ${topic}`);
        node.subscribe(topic, wrapGossipHandler(topic, handler), subscribeOptions);
        peer.subscriptions.add(topic);
        for (const otherId of node.connectedPeers()) {
          const other = peers.get(otherId);
          if (other) awaitSubscriptionsKnown(peer, other);
        }
      },

      unsubscribe(topic) {
        peer.subscriptions.delete(topic);
        forgetReceiver(self, topic);
        if (peer.running) peer.inner?.unsubscribe(topic);
      },

      async publish(topic, data) {
        const node = inner(`publish to ${topic}`);
        const known = new Set(node.topicPeers(topic));
        const entries: Expectation[] = [];
        for (const receiver of peers.values()) {
          if (receiver.peerId === self || !receiver.running) continue;
          if (!receiver.subscriptions.has(topic) || !known.has(receiver.peerId)) continue;
          entries.push(
            expect(
              self,
              receiver.peerId,
              topic,
              data,
              `gossip ${topic} ${peer.name}→${receiver.name}`,
            ),
          );
        }
        try {
          await node.publish(topic, data);
        } catch (error) {
          for (const entry of entries) forget(entry);
          throw error;
        }
      },

      topicPeers: (topic) => (peer.running ? (peer.inner?.topicPeers(topic) ?? []) : []),

      async handle(protocol, handler, handleOptions) {
        await inner(`handle ${protocol}`).handle(
          protocol,
          wrapRequestHandler(protocol, handler),
          handleOptions,
        );
      },

      async unhandle(protocol) {
        if (peer.running) await peer.inner?.unhandle(protocol);
      },

      request(target, protocol, data, requestOptions) {
        if (!peer.running || peer.inner === undefined)
          return Promise.reject(stoppedError(`send a ${protocol} request`));
        const node = peer.inner;
        return new Promise<Uint8Array>((resolve, reject) => {
          let done = false;
          const cancel = new AbortController();
          const finish = (outcome: () => void) => {
            if (done) return;
            done = true;
            timeout.cancel();
            requestOptions.signal?.removeEventListener('abort', onAbort);
            peer.pending.delete(onStop);
            outcome();
          };
          const onStop = (error: Error) =>
            finish(() => {
              cancel.abort(error);
              reject(error);
            });
          peer.pending.add(onStop);
          const timeout: TimerHandle = clock.setTimer(requestOptions.timeoutMs, () =>
            finish(() => {
              const error = new NetworkError(
                'REQUEST_TIMEOUT',
                `${protocol} to ${nameOf(target)}: no answer within ${requestOptions.timeoutMs} ms`,
              );
              cancel.abort(error);
              reject(error);
            }),
          );
          const onAbort = () =>
            finish(() => {
              cancel.abort(requestOptions.signal?.reason);
              reject(
                new NetworkError('REQUEST_FAILED', `${protocol} to ${nameOf(target)}: aborted`, {
                  cause: requestOptions.signal?.reason,
                }),
              );
            });
          if (requestOptions.signal?.aborted) return onAbort();
          requestOptions.signal?.addEventListener('abort', onAbort, { once: true });

          if (!reachable(self, target)) {
            clock.setTimer(delayMs(), () =>
              finish(() =>
                reject(new NetworkError('PEER_UNREACHABLE', `cannot reach ${nameOf(target)}`)),
              ),
            );
            return;
          }
          trace({
            kind: 'request',
            atMs: clock.now(),
            from: peer.name,
            to: nameOf(target),
            protocol,
            bytes: data.length,
          });
          const entry = expect(
            self,
            target,
            protocol,
            data,
            `request ${protocol} ${peer.name}→${nameOf(target)}`,
          );
          const exchange = async () => {
            // As on the sim network, any peer of the run can be asked by id: dial its address
            // when libp2p has none for it yet.
            const other = peers.get(target);
            const address = other?.running ? other.inner?.listenAddresses()[0] : undefined;
            if (address !== undefined && !node.connectedPeers().includes(target)) {
              await node
                .dial(`${address}/p2p/${target}`, { signal: cancel.signal })
                .catch(() => {});
            }
            return node.request(target, protocol, data, {
              timeoutMs: REAL_REQUEST_LIMIT_MS,
              maxResponseBytes: requestOptions.maxResponseBytes,
              signal: cancel.signal,
            });
          };
          exchange().then(
            (response) => {
              forget(entry);
              // The request may have opened the connection: its peers learn our topics now.
              const other = peers.get(target);
              if (other) {
                awaitSubscriptionsKnown(peer, other);
                awaitSubscriptionsKnown(other, peer);
              }
              if (done) return;
              const what = `response ${protocol}`;
              if (!reachable(target, self)) return drop(target, self, what, 'partition');
              if (lost()) return drop(target, self, what, 'loss');
              clock.setTimer(delayMs(), () => {
                trace({
                  kind: 'response',
                  atMs: clock.now(),
                  from: nameOf(target),
                  to: peer.name,
                  protocol,
                  bytes: response.length,
                });
                finish(() => resolve(response));
              });
            },
            (error: unknown) => {
              forget(entry);
              // A request the receiver dropped is never answered: the caller's timeout ends it.
              if (done || entry.dropped) return;
              clock.setTimer(delayMs(), () =>
                finish(() =>
                  reject(
                    error instanceof NetworkError
                      ? error
                      : new NetworkError(
                          'REQUEST_FAILED',
                          `${protocol} to ${nameOf(target)} failed`,
                          { cause: error },
                        ),
                  ),
                ),
              );
            },
          );
        });
      },
    };
    return network;
  }

  return {
    mode: 'libp2p',
    async createPeer(name) {
      if (!/^[A-Za-z0-9]+$/.test(name))
        throw new RangeError(`peer name must be alphanumeric: ${name}`);
      const privateKey = await libp2pPrivateKey(options.seed, name);
      const peerId = peerIdFromPrivateKey(privateKey).toString();
      if (peers.has(peerId)) throw new RangeError(`a peer named ${name} exists already`);
      const peer: FabricPeer = {
        name,
        peerId,
        privateKey,
        inner: undefined,
        innerStopped: false,
        running: false,
        events: {},
        subscriptions: new Set(),
        pending: new Set(),
      };
      peers.set(peerId, peer);
      return wrap(peer);
    },
    setConditions(update) {
      conditions = { ...conditions, ...update };
    },
    conditions: () => conditions,
    partition(groups) {
      groupOf = new Map();
      groups.forEach((group, index) => {
        for (const peerId of group) groupOf.set(peerId, index);
      });
    },
    heal() {
      groupOf = new Map();
    },
    busy: () => tracker.busy(),
    idle: () => tracker.idle(),
    bootstrapAddresses: (peer) => peer.listenAddresses(),
    async preconnect(from, to) {
      const dialer = peers.get(from.peerId);
      const target = peers.get(to.peerId);
      if (!dialer?.inner || !target) throw new RangeError('preconnect: not peers of this fabric');
      const address = to.listenAddresses()[0];
      if (address === undefined) throw new RangeError(`preconnect: ${target.name} is not running`);
      const node = dialer.inner;
      await counted(`dial ${dialer.name}→${target.name}`, () => node.dial(address));
      awaitSubscriptionsKnown(dialer, target);
      awaitSubscriptionsKnown(target, dialer);
    },
    async duringStartup(work) {
      tracker.setStallAfterMs(STARTUP_STALL_AFTER_MS);
      try {
        await work();
      } finally {
        tracker.setStallAfterMs(stallAfterMs);
      }
    },
    stallCount: () => tracker.stallCount(),
    peerName: nameOf,
    inFlight: () => tracker.inFlight(),
    async stop() {
      tracker.clear();
      expected.clear();
    },
  };
}
