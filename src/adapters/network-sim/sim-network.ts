import type { Clock, TimerHandle } from '../../ports/clock.ts';
import type {
  ConnectionGate,
  GossipHandler,
  HandleOptions,
  Network,
  PeerEvents,
  PeerId,
  Protocol,
  RequestHandler,
  RequestOptions,
  Topic,
} from '../../ports/network.ts';
import { MessageTooLargeError, NetworkError } from '../../ports/network-errors.ts';
import type { Rng } from '../../ports/rng.ts';

/**
 * The simulator's network: many peers in one process, every delivery scheduled on the injected
 * (virtual) clock with latency, jitter, loss and duplication drawn from one seeded Rng, and
 * partitions. Gossip floods hop by hop between connected subscribers with a seen-cache, so a
 * peer's verdict decides whether it forwards, as in gossipsub. Same inputs and seed → same
 * deliveries in the same order.
 */

export interface LinkConditions {
  latencyMs: number;
  /** Uniform extra delay in [0, jitterMs): reorders messages. */
  jitterMs: number;
  /** Probability that one delivery is dropped. */
  lossRate: number;
  /** Probability that one delivery happens twice. */
  duplicateRate: number;
}

export const DEFAULT_LINK_CONDITIONS: LinkConditions = {
  latencyMs: 5,
  jitterMs: 2,
  lossRate: 0,
  duplicateRate: 0,
};

export type SimTraceEvent =
  | {
      kind: 'gossip';
      atMs: number;
      from: PeerId;
      to: PeerId;
      topic: Topic;
      bytes: number;
      origin: PeerId;
    }
  | { kind: 'request'; atMs: number; from: PeerId; to: PeerId; protocol: Protocol; bytes: number }
  | { kind: 'response'; atMs: number; from: PeerId; to: PeerId; protocol: Protocol; bytes: number }
  | {
      kind: 'drop';
      atMs: number;
      from: PeerId;
      to: PeerId;
      what: string;
      reason: 'loss' | 'partition' | 'stopped';
    }
  | { kind: 'connect' | 'disconnect'; atMs: number; from: PeerId; to: PeerId };

export interface SimNetworkHub {
  /** A new peer; `name` (alphanumeric) makes its id readable in traces. */
  createPeer(name?: string): Network;
  setConditions(conditions: Partial<LinkConditions>): void;
  conditions(): LinkConditions;
  /** Peers in different groups cannot reach each other; peers in no group reach only ungrouped peers. */
  partition(groups: readonly (readonly PeerId[])[]): void;
  heal(): void;
  /** Messages scheduled but not yet delivered. */
  inFlight(): number;
}

interface Subscription {
  handler: GossipHandler;
  maxMessageBytes: number;
}

interface Handler {
  handler: RequestHandler;
  maxRequestBytes: number;
}

interface SimPeer {
  id: PeerId;
  running: boolean;
  started: boolean;
  connections: Set<PeerId>;
  subscriptions: Map<Topic, Subscription>;
  handlers: Map<Protocol, Handler>;
  seen: Set<string>;
  seenOrder: string[];
  events: PeerEvents;
  pending: Set<{ fail: (error: Error) => void }>;
  gate: ConnectionGate | undefined;
}

/** Seen-cache size per peer: old message ids are forgotten first. */
const MAX_SEEN_IDS = 10_000;

export function createSimNetworkHub(deps: {
  clock: Clock;
  rng: Rng;
  conditions?: Partial<LinkConditions>;
  onTrace?: (event: SimTraceEvent) => void;
}): SimNetworkHub {
  const { clock, rng } = deps;
  let conditions: LinkConditions = { ...DEFAULT_LINK_CONDITIONS, ...deps.conditions };
  const peers = new Map<PeerId, SimPeer>();
  let groupOf = new Map<PeerId, number>();
  let messageSeq = 0;
  let inFlight = 0;
  const trace = (event: SimTraceEvent) => deps.onTrace?.(event);

  const reachable = (a: PeerId, b: PeerId) => (groupOf.get(a) ?? -1) === (groupOf.get(b) ?? -1);
  const delayMs = () =>
    conditions.latencyMs + (conditions.jitterMs > 0 ? rng.next() * conditions.jitterMs : 0);

  /**
   * Schedules `deliver` after the link delay unless the link drops it; may schedule it twice.
   * Returns false when dropped at send time.
   */
  function send(
    from: PeerId,
    to: PeerId,
    what: string,
    deliver: () => void,
    faults = true,
  ): boolean {
    if (!reachable(from, to)) {
      trace({ kind: 'drop', atMs: clock.now(), from, to, what, reason: 'partition' });
      return false;
    }
    if (faults && conditions.lossRate > 0 && rng.next() < conditions.lossRate) {
      trace({ kind: 'drop', atMs: clock.now(), from, to, what, reason: 'loss' });
      return false;
    }
    const copies =
      faults && conditions.duplicateRate > 0 && rng.next() < conditions.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      inFlight++;
      clock.setTimer(delayMs(), () => {
        inFlight--;
        const target = peers.get(to);
        if (!target?.running || !reachable(from, to)) {
          trace({
            kind: 'drop',
            atMs: clock.now(),
            from,
            to,
            what,
            reason: target?.running ? 'partition' : 'stopped',
          });
          return;
        }
        deliver();
      });
    }
    return true;
  }

  /** Whether either side's gate refuses the other (each gate is asked, and counts, once). */
  function gateRefuses(a: SimPeer, b: SimPeer): boolean {
    const refusedByB = b.gate?.refusePeer(a.id) !== undefined;
    const refusedByA = a.gate?.refusePeer(b.id) !== undefined;
    return refusedByA || refusedByB;
  }

  function connect(a: SimPeer, b: SimPeer) {
    if (a.connections.has(b.id)) return;
    a.connections.add(b.id);
    b.connections.add(a.id);
    trace({ kind: 'connect', atMs: clock.now(), from: a.id, to: b.id });
    a.events.onPeerConnected?.(b.id);
    b.events.onPeerConnected?.(a.id);
  }

  function disconnect(a: SimPeer, b: SimPeer) {
    if (!a.connections.has(b.id)) return;
    a.connections.delete(b.id);
    b.connections.delete(a.id);
    trace({ kind: 'disconnect', atMs: clock.now(), from: a.id, to: b.id });
    a.events.onPeerDisconnected?.(b.id);
    b.events.onPeerDisconnected?.(a.id);
  }

  function rememberSeen(peer: SimPeer, id: string): boolean {
    if (peer.seen.has(id)) return false;
    peer.seen.add(id);
    peer.seenOrder.push(id);
    if (peer.seenOrder.length > MAX_SEEN_IDS) peer.seen.delete(peer.seenOrder.shift() as string);
    return true;
  }

  /** Sends a gossip message from `sender` to its subscribed neighbours, except `except`. */
  function forward(
    sender: SimPeer,
    topic: Topic,
    id: string,
    origin: PeerId,
    data: Uint8Array,
    except?: PeerId,
  ) {
    for (const neighbourId of [...sender.connections].sort()) {
      if (neighbourId === except || neighbourId === origin) continue;
      const neighbour = peers.get(neighbourId);
      if (!neighbour?.subscriptions.has(topic)) continue;
      send(sender.id, neighbourId, `gossip ${topic}`, () => {
        trace({
          kind: 'gossip',
          atMs: clock.now(),
          from: sender.id,
          to: neighbourId,
          topic,
          bytes: data.length,
          origin,
        });
        void receiveGossip(neighbour, sender.id, topic, id, origin, data);
      });
    }
  }

  async function receiveGossip(
    peer: SimPeer,
    via: PeerId,
    topic: Topic,
    id: string,
    origin: PeerId,
    data: Uint8Array,
  ) {
    if (!rememberSeen(peer, id)) return;
    const subscription = peer.subscriptions.get(topic);
    if (!subscription) return;
    if (data.length > subscription.maxMessageBytes) {
      peer.gate?.onRejected({ reason: 'oversize', channel: topic, peer: origin });
      return;
    }
    // A forwarder the gate refuses should not be connected; the publisher is judged per message.
    if (via !== origin && peer.gate?.isRefused(via) === true) return;
    if (peer.gate?.refuseMessage(origin, topic) !== undefined) return;
    let verdict: string;
    try {
      verdict = await subscription.handler({ topic, from: origin, data });
    } catch {
      verdict = 'reject';
    }
    if (verdict === 'accept' && peer.running) forward(peer, topic, id, origin, data, via);
  }

  function createPeer(name?: string): Network {
    const id = `${name ?? 'simpeer'}${String(peers.size).padStart(4, '0')}`;
    if (!/^[A-Za-z0-9]+$/.test(id)) throw new RangeError(`peer name must be alphanumeric: ${name}`);
    const peer: SimPeer = {
      id,
      running: false,
      started: false,
      connections: new Set(),
      subscriptions: new Map(),
      handlers: new Map(),
      seen: new Set(),
      seenOrder: [],
      events: {},
      pending: new Set(),
      gate: undefined,
    };
    peers.set(id, peer);

    const assertRunning = () => {
      if (!peer.running) throw new NetworkError('NETWORK_STOPPED', `peer ${id} is stopped`);
    };

    /** Waits for `operation`, failing it with NETWORK_STOPPED if this peer stops first. */
    function track<T>(
      operation: (settle: { resolve: (v: T) => void; reject: (e: Error) => void }) => void,
    ): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const entry = { fail: (error: Error) => reject(error) };
        peer.pending.add(entry);
        operation({
          resolve: (value) => {
            peer.pending.delete(entry);
            resolve(value);
          },
          reject: (error) => {
            peer.pending.delete(entry);
            reject(error);
          },
        });
      });
    }

    const network: Network = {
      peerId: id,
      /** A stopped peer may start again with the same id (the simulator restarts crashed nodes). */
      async start() {
        peer.started = true;
        peer.running = true;
      },
      async stop() {
        if (!peer.running) return;
        peer.running = false;
        for (const otherId of [...peer.connections]) {
          const other = peers.get(otherId);
          if (other) disconnect(peer, other);
        }
        for (const entry of [...peer.pending])
          entry.fail(new NetworkError('NETWORK_STOPPED', `peer ${id} stopped`));
        peer.pending.clear();
        peer.subscriptions.clear();
        peer.handlers.clear();
      },
      listenAddresses: () => (peer.running ? [`/sim/p2p/${id}`] : []),
      dial(address) {
        if (!peer.running)
          return Promise.reject(new NetworkError('NETWORK_STOPPED', `peer ${id} is stopped`));
        const targetId = address.split('/').filter(Boolean).at(-1) ?? '';
        return track<PeerId>(({ resolve, reject }) => {
          const target = peers.get(targetId);
          const fail = () =>
            reject(new NetworkError('PEER_UNREACHABLE', `cannot reach ${address}`));
          if (!target?.running || !reachable(id, targetId)) {
            clock.setTimer(delayMs(), fail);
            return;
          }
          // One round trip, without loss: connection setup retries its own packets.
          clock.setTimer(2 * delayMs(), () => {
            if (!target.running || !peer.running || !reachable(id, targetId)) return fail();
            if (!peer.connections.has(targetId) && gateRefuses(peer, target)) return fail();
            connect(peer, target);
            resolve(targetId);
          });
        });
      },
      async hangUp(other) {
        const target = peers.get(other);
        if (target) disconnect(peer, target);
      },
      connectedPeers: () => [...peer.connections].sort(),
      setPeerEvents(events) {
        peer.events = events;
      },
      setConnectionGate(gate) {
        peer.gate = gate;
      },
      subscribe(topic, handler, options) {
        assertRunning();
        peer.subscriptions.set(topic, { handler, maxMessageBytes: options.maxMessageBytes });
      },
      unsubscribe(topic) {
        peer.subscriptions.delete(topic);
      },
      async publish(topic, data) {
        assertRunning();
        const messageId = `${id}:${messageSeq++}`;
        rememberSeen(peer, messageId);
        forward(peer, topic, messageId, id, data);
      },
      topicPeers: (topic) =>
        [...peer.connections].filter((other) => peers.get(other)?.subscriptions.has(topic)).sort(),
      async handle(protocol, handler, options: HandleOptions) {
        assertRunning();
        peer.handlers.set(protocol, { handler, maxRequestBytes: options.maxRequestBytes });
      },
      async unhandle(protocol) {
        peer.handlers.delete(protocol);
      },
      request(targetId, protocol, data, options: RequestOptions) {
        if (!peer.running)
          return Promise.reject(new NetworkError('NETWORK_STOPPED', `peer ${id} is stopped`));
        return track<Uint8Array>(({ resolve, reject }) => {
          let done = false;
          const abortHandler = new AbortController();
          const finish = (outcome: () => void) => {
            if (done) return;
            done = true;
            timeout.cancel();
            options.signal?.removeEventListener('abort', onAbort);
            outcome();
          };
          const timeout: TimerHandle = clock.setTimer(options.timeoutMs, () =>
            finish(() => {
              abortHandler.abort(new NetworkError('REQUEST_TIMEOUT', 'caller gave up'));
              reject(
                new NetworkError(
                  'REQUEST_TIMEOUT',
                  `${protocol} to ${targetId}: no answer within ${options.timeoutMs} ms`,
                ),
              );
            }),
          );
          const onAbort = () =>
            finish(() => {
              abortHandler.abort(options.signal?.reason);
              reject(
                new NetworkError('REQUEST_FAILED', `${protocol} to ${targetId}: aborted`, {
                  cause: options.signal?.reason,
                }),
              );
            });
          options.signal?.addEventListener('abort', onAbort, { once: true });

          const target = peers.get(targetId);
          if (!target?.running || !reachable(id, targetId)) {
            clock.setTimer(delayMs(), () =>
              finish(() =>
                reject(new NetworkError('PEER_UNREACHABLE', `cannot reach ${targetId}`)),
              ),
            );
            return;
          }
          if (!peer.connections.has(targetId)) {
            if (gateRefuses(peer, target)) {
              clock.setTimer(2 * delayMs(), () =>
                finish(() =>
                  reject(
                    new NetworkError('PEER_UNREACHABLE', `${targetId} refused the connection`),
                  ),
                ),
              );
              return;
            }
            connect(peer, target);
          }
          trace({
            kind: 'request',
            atMs: clock.now(),
            from: id,
            to: targetId,
            protocol,
            bytes: data.length,
          });
          send(id, targetId, `request ${protocol}`, () => {
            const entry = target.handlers.get(protocol);
            if (!entry) {
              send(
                targetId,
                id,
                `reset ${protocol}`,
                () =>
                  finish(() =>
                    reject(
                      new NetworkError('NO_HANDLER', `${targetId} does not handle ${protocol}`),
                    ),
                  ),
                false,
              );
              return;
            }
            const refused =
              data.length > entry.maxRequestBytes
                ? 'oversize'
                : target.gate?.refuseMessage(id, protocol);
            if (refused === 'oversize')
              target.gate?.onRejected({ reason: 'oversize', channel: protocol, peer: id });
            if (refused !== undefined) {
              send(
                targetId,
                id,
                `reset ${protocol}`,
                () =>
                  finish(() =>
                    reject(
                      new NetworkError(
                        'REQUEST_FAILED',
                        `${targetId} refused a ${data.length}-byte request (${refused})`,
                      ),
                    ),
                  ),
                false,
              );
              return;
            }
            void (async () => {
              let response: Uint8Array;
              try {
                response = await entry.handler({
                  protocol,
                  from: id,
                  data,
                  signal: abortHandler.signal,
                });
              } catch (error) {
                send(
                  targetId,
                  id,
                  `reset ${protocol}`,
                  () =>
                    finish(() =>
                      reject(
                        new NetworkError('REQUEST_FAILED', `${targetId} failed ${protocol}`, {
                          cause: error,
                        }),
                      ),
                    ),
                  false,
                );
                return;
              }
              if (!target.running) return;
              send(targetId, id, `response ${protocol}`, () => {
                trace({
                  kind: 'response',
                  atMs: clock.now(),
                  from: targetId,
                  to: id,
                  protocol,
                  bytes: response.length,
                });
                finish(() => {
                  if (response.length > options.maxResponseBytes) {
                    reject(
                      new MessageTooLargeError(
                        `${protocol} response`,
                        response.length,
                        options.maxResponseBytes,
                      ),
                    );
                  } else {
                    resolve(response);
                  }
                });
              });
            })();
          });
        });
      },
    };
    return network;
  }

  return {
    createPeer,
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
    inFlight: () => inFlight,
  };
}
