/**
 * The network as node code sees it (SPEC §5, §6): gossip topics and request/response
 * protocols, carrying bytes. Adapters: libp2p over TCP, libp2p over the in-memory transport, and
 * the simulator's deterministic network. Encoding and validation of the bytes happen above this
 * port, in one place per message type.
 */

import type { Rejection, RejectionReason } from './rejections.ts';

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

/**
 * Who may talk to this node (SPEC §6 hardening). The adapter asks it on every connection, inbound
 * or outbound, and before every inbound request and gossip message reaches a handler; a refused
 * message is dropped unseen (a request's stream is reset; gossip is rejected when the refused
 * peer handed it to us itself, ignored when an honest peer merely forwarded it). The gate itself
 * reports its refusals (it knows why); the adapter reports through `onRejected` only what it
 * refuses on its own (oversize messages). Gates are called on the hot path: they must answer
 * synchronously and cheaply, and never throw.
 *
 * A gate does not close connections it starts refusing: the node policy that bans a peer also
 * calls `hangUp`, and the gate then refuses the reconnection.
 *
 * Each refusal is counted once: `refusePeer` only for a connection attempt (adapters ask it once
 * per attempt, at the first stage that knows the peer id), `refuseMessage` once per message (it
 * includes the peer's own refusal), and `isRefused` never (for a peer that only forwards).
 */
export interface ConnectionGate {
  /** Why `peer` may not connect (one connection attempt), or `undefined` when it may. */
  refusePeer(peer: PeerId): RejectionReason | undefined;
  /**
   * Why this one message from `peer` on `channel` is refused: the peer itself refused (banned,
   * not admitted), a rate limit, or a channel not open to it.
   */
  refuseMessage(peer: PeerId, channel: Protocol | Topic): RejectionReason | undefined;
  /** Whether `peer` is refused, without counting it (a peer that merely forwarded a message). */
  isRefused(peer: PeerId): boolean;
  /** Told of refusals made by the adapter itself (oversize messages). */
  onRejected(rejection: Rejection): void;
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
  /** Installs the node's admission policy; replaces the previous one (none: everyone admitted). */
  setConnectionGate(gate: ConnectionGate | undefined): void;

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
