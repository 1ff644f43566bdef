import type { PrivateKey } from '@libp2p/interface';

export type Libp2pTransportKind = 'tcp' | 'memory';

export interface Libp2pGossipOptions {
  /**
   * Gossipsub's mesh maintenance period (its default is 1000 ms). Meshes form and repair once per
   * heartbeat, so tests shorten it to settle quickly.
   */
  heartbeatIntervalMs: number;
  /**
   * The largest gossipsub RPC frame read from a peer (a frame carries one or more messages plus
   * control data). Larger frames are dropped by gossipsub before decoding. Must exceed every
   * subscription's `maxMessageBytes` by the frame overhead (signature, key, topic: < 1 KiB).
   */
  maxRpcBytes: number;
  /** The largest message `publish` sends; larger ones fail with MessageTooLargeError. */
  maxPublishBytes: number;
  /**
   * A gossip handler that has not returned a verdict by then counts as `ignore` (the message is
   * dropped unforwarded, the sender not penalised: the delay is ours, not theirs). Gossipsub wants
   * validators to answer within about 100 ms, so this is a safety bound, not a budget.
   */
  handlerTimeoutMs: number;
}

export interface Libp2pRequestOptions {
  /**
   * Concurrent streams per protocol and connection, inbound and outbound; libp2p resets streams
   * beyond it.
   */
  maxStreamsPerProtocol: number;
  /**
   * An inbound request must be read and answered within this; then the handler's signal aborts
   * and the stream is reset, so a silent or slow peer cannot hold a stream open.
   */
  inboundTimeoutMs: number;
}

export interface Libp2pNetworkOptions {
  transport: Libp2pTransportKind;
  /**
   * Multiaddrs to listen on. Defaults: TCP on `/ip4/127.0.0.1/tcp/0` (loopback, any free port);
   * memory on `/memory/<peer id>`, unique within the process as long as each running node has its
   * own key.
   */
  listenAddresses?: readonly string[];
  /** The node's libp2p identity; a fresh Ed25519 key is generated when absent. */
  privateKey?: PrivateKey;
  /** Upper bound on opening one outbound connection (libp2p's dial timeout). */
  dialTimeoutMs?: number;
  gossip?: Partial<Libp2pGossipOptions>;
  requests?: Partial<Libp2pRequestOptions>;
}

export const DEFAULT_GOSSIP_OPTIONS: Libp2pGossipOptions = {
  heartbeatIntervalMs: 1000,
  maxRpcBytes: 4 * 1024 * 1024,
  maxPublishBytes: 1024 * 1024,
  handlerTimeoutMs: 5000,
};

export const DEFAULT_REQUEST_OPTIONS: Libp2pRequestOptions = {
  maxStreamsPerProtocol: 16,
  inboundTimeoutMs: 10_000,
};

export const DEFAULT_DIAL_TIMEOUT_MS = 5000;
