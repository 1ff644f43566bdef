import type {
  ConnectionGate,
  GossipHandler,
  GossipVerdict,
  Network,
  PeerEvents,
  PeerId,
  Protocol,
  RequestHandler,
  RequestOptions,
  Topic,
} from '../../../src/ports/network.ts';
import { NetworkError } from '../../../src/ports/network-errors.ts';

/** An outbound request the node made, as the fake network saw it. */
export interface RecordedRequest {
  readonly peer: PeerId;
  readonly protocol: Protocol;
  readonly data: Uint8Array;
  readonly timeoutMs: number;
}

/** Answers the node's outbound requests (the registry, the aggregator); throw to fail one. */
export type Responder = (request: RecordedRequest) => Uint8Array | Promise<Uint8Array>;

/**
 * A Network port for unit tests: no sockets. The test delivers gossip into the node's handlers,
 * answers its outbound requests through `respond`, decides what dialing does and calls the
 * protocols the node serves.
 */
export interface FakeNetwork extends Network {
  readonly requests: RecordedRequest[];
  readonly dials: string[];
  readonly published: { topic: Topic; data: Uint8Array }[];
  respond: Responder;
  /** Default: the peer id after `/p2p/`; throw to make a dial fail. */
  dialer: (address: string) => PeerId | Promise<PeerId>;
  connected: Set<PeerId>;
  /** Delivers a gossip message as if `from` had published it; a throwing handler counts as reject. */
  deliver(topic: Topic, from: PeerId, data: Uint8Array): Promise<GossipVerdict>;
  /** Calls the handler the node registered for `protocol`. */
  serve(protocol: Protocol, from: PeerId, data: Uint8Array): Promise<Uint8Array>;
  subscribed(): Topic[];
  handled(): Protocol[];
  /** The gate the node installed, if any (deliver and serve consult it as a real network does). */
  gate: ConnectionGate | undefined;
  /** Drops the connection to `peer` and tells the node, as a closed connection would. */
  disconnect(peer: PeerId): void;
}

export function createFakeNetwork(peerId: PeerId = 'FakeOperatorPeer1'): FakeNetwork {
  const gossip = new Map<Topic, GossipHandler>();
  const handlers = new Map<Protocol, RequestHandler>();
  let events: PeerEvents = {};
  const network: FakeNetwork = {
    peerId,
    requests: [],
    dials: [],
    published: [],
    connected: new Set(),
    gate: undefined,
    setConnectionGate(gate) {
      network.gate = gate;
    },
    respond: () => {
      throw new NetworkError('PEER_UNREACHABLE', 'no responder set');
    },
    dialer: (address) => {
      const split = address.lastIndexOf('/p2p/');
      if (split < 0) throw new NetworkError('PEER_UNREACHABLE', `${address} has no peer id`);
      return address.slice(split + 5);
    },
    async start() {},
    async stop() {},
    listenAddresses: () => [`/memory/${peerId}/p2p/${peerId}`],
    async dial(address) {
      network.dials.push(address);
      const reached = await network.dialer(address);
      network.connected.add(reached);
      return reached;
    },
    async hangUp(peer) {
      network.connected.delete(peer);
    },
    connectedPeers: () => [...network.connected],
    setPeerEvents(next) {
      events = next;
    },
    disconnect(peer) {
      if (network.connected.delete(peer)) events.onPeerDisconnected?.(peer);
    },
    subscribe(topic, handler) {
      gossip.set(topic, handler);
    },
    unsubscribe(topic) {
      gossip.delete(topic);
    },
    async publish(topic, data) {
      network.published.push({ topic, data });
    },
    topicPeers: () => [],
    async handle(protocol, handler) {
      handlers.set(protocol, handler);
    },
    async unhandle(protocol) {
      handlers.delete(protocol);
    },
    async request(peer, protocol, data, options: RequestOptions) {
      if (options.signal?.aborted) throw options.signal.reason;
      const request = { peer, protocol, data, timeoutMs: options.timeoutMs };
      network.requests.push(request);
      return network.respond(request);
    },
    async deliver(topic, from, data) {
      const handler = gossip.get(topic);
      if (handler === undefined) throw new Error(`nothing subscribed to ${topic}`);
      if (network.gate?.refuseMessage(from, topic) !== undefined) return 'reject';
      try {
        return await handler({ topic, from, data });
      } catch {
        return 'reject';
      }
    },
    async serve(protocol, from, data) {
      const handler = handlers.get(protocol);
      if (handler === undefined) throw new NetworkError('NO_HANDLER', `no handler for ${protocol}`);
      const refusal = network.gate?.refuseMessage(from, protocol);
      if (refusal !== undefined) throw new NetworkError('REQUEST_FAILED', `refused: ${refusal}`);
      return handler({ protocol, from, data, signal: new AbortController().signal });
    },
    subscribed: () => [...gossip.keys()],
    handled: () => [...handlers.keys()],
  };
  return network;
}
