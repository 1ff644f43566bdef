/**
 * The network as node code sees it (SPEC §5, §6): gossip topics and request/response
 * protocols, carrying bytes. Adapters: libp2p over TCP, libp2p over the in-memory transport, and
 * the simulator's deterministic network. Encoding and validation of the bytes happen above this
 * port, in one place per message type.
 */

export const TOPICS = {
  task: '/spotted/task/1',
  result: '/spotted/result/1',
  epoch: '/spotted/epoch/1',
  registry: '/spotted/registry/1',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

export const PROTOCOLS = {
  join: '/spotted/join/1',
  response: '/spotted/response/1',
  sync: '/spotted/sync/1',
  health: '/spotted/health/1',
} as const;

export type Protocol = (typeof PROTOCOLS)[keyof typeof PROTOCOLS];

/** A peer's identity on the network (a libp2p peer id string in every adapter). */
export type PeerId = string;

/** How a gossip message is judged: delivered and forwarded, dropped, or dropped and penalised. */
export type GossipVerdict = 'accept' | 'ignore' | 'reject';

export interface GossipMessage {
  topic: Topic;
  /** The peer that published it (not the one that forwarded it). */
  from: PeerId;
  data: Uint8Array;
}

/**
 * Validates and handles one gossip message. Its verdict decides whether the message is forwarded;
 * throwing counts as `reject`.
 */
export type GossipHandler = (message: GossipMessage) => GossipVerdict | Promise<GossipVerdict>;

export interface InboundRequest {
  protocol: Protocol;
  from: PeerId;
  data: Uint8Array;
  signal: AbortSignal;
}

/** Answers one request; throwing closes the stream without an answer. */
export type RequestHandler = (request: InboundRequest) => Promise<Uint8Array>;

export interface RequestOptions {
  /** The whole exchange, dial included, must finish within this. */
  timeoutMs: number;
  /** Longer responses are refused with MessageTooLargeError. */
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface HandleOptions {
  /** Longer requests are refused before the handler runs. */
  maxRequestBytes: number;
}

export interface PeerEvents {
  onPeerConnected?: (peer: PeerId) => void;
  onPeerDisconnected?: (peer: PeerId) => void;
}

export interface Network {
  readonly peerId: PeerId;
  start(): Promise<void>;
  /** Stops listening and closes every connection; pending requests fail. */
  stop(): Promise<void>;
  /** Addresses other peers can dial (multiaddrs with the peer id). */
  listenAddresses(): string[];
  /** Connects to a peer by address (bootstrap, discovery). */
  dial(address: string, options?: { signal?: AbortSignal }): Promise<PeerId>;
  hangUp(peer: PeerId): Promise<void>;
  connectedPeers(): PeerId[];
  setPeerEvents(events: PeerEvents): void;

  /** Subscribes; every message on `topic` passes through `handler`. Messages over `maxMessageBytes` are rejected unseen. */
  subscribe(topic: Topic, handler: GossipHandler, options: { maxMessageBytes: number }): void;
  unsubscribe(topic: Topic): void;
  /** Publishes to the topic's mesh. Resolves once handed to the network, not on delivery. */
  publish(topic: Topic, data: Uint8Array): Promise<void>;
  /** Peers known to be subscribed to `topic`. */
  topicPeers(topic: Topic): PeerId[];

  handle(protocol: Protocol, handler: RequestHandler, options: HandleOptions): Promise<void>;
  unhandle(protocol: Protocol): Promise<void>;
  request(
    peer: PeerId,
    protocol: Protocol,
    data: Uint8Array,
    options: RequestOptions,
  ): Promise<Uint8Array>;
}
