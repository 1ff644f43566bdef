import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type GossipSub, gossipsub, StrictSign } from '@libp2p/gossipsub';
import { type Identify, identify } from '@libp2p/identify';
import type { Libp2p, PeerId as Libp2pPeerId, PrivateKey } from '@libp2p/interface';
import { memory } from '@libp2p/memory';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import {
  type ConnectionGate,
  type Network,
  type PeerEvents,
  type PeerId,
  type Protocol,
  TOPICS,
  type Topic,
} from '../../ports/network.ts';
import { MessageTooLargeError, NetworkError } from '../../ports/network-errors.ts';
import { createDeadlines } from './deadlines.ts';
import { createTopicValidator } from './gossip-validation.ts';
import {
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_GOSSIP_OPTIONS,
  DEFAULT_REQUEST_OPTIONS,
  type Libp2pGossipOptions,
  type Libp2pNetworkOptions,
  type Libp2pRequestOptions,
} from './options.ts';
import { SPOTTED_SCORE_PARAMS, SPOTTED_SCORE_THRESHOLDS } from './peer-scoring.ts';
import { createRequestStreamHandler, sendRequest } from './request-response.ts';

/** The gate the node installed, read by libp2p's connection gater on every connection. */
interface GateHolder {
  gate: ConnectionGate | undefined;
}

type Services = { pubsub: GossipSub; identify: Identify };

/** What gossipsub wraps around a message's data: author, sequence number, topic, signature, key. */
const GOSSIP_ENVELOPE_BYTES = 1024;

/**
 * The Network port over js-libp2p 3: TCP or the in-process memory transport, Noise, yamux,
 * identify, and gossipsub with signed messages (StrictSign: every message carries its author's
 * peer id and signature, so `GossipMessage.from` is the publisher, not the forwarder).
 *
 * Self-delivery: gossipsub's `emitSelf` stays off, so a node's own published messages are not
 * handed to its own handler, and copies forwarded back by peers are dropped as already seen.
 * Publishing with no subscribed peers resolves (the message goes nowhere), as the port promises
 * only hand-off to the network.
 */
export async function createLibp2pNetwork(options: Libp2pNetworkOptions): Promise<Network> {
  const gossipOptions: Libp2pGossipOptions = { ...DEFAULT_GOSSIP_OPTIONS, ...options.gossip };
  const requestOptions: Libp2pRequestOptions = { ...DEFAULT_REQUEST_OPTIONS, ...options.requests };
  const privateKey: PrivateKey = options.privateKey ?? (await generateKeyPair('Ed25519'));
  const selfId = peerIdFromPrivateKey(privateKey);
  const listen = options.listenAddresses ?? defaultListenAddresses(options.transport, selfId);
  const gateHolder: GateHolder = { gate: undefined };
  const refused = (peer: Libp2pPeerId): boolean =>
    gateHolder.gate?.refusePeer(peer.toString()) !== undefined;

  const node: Libp2p<Services> = await createLibp2p<Services>({
    start: false,
    privateKey,
    addresses: { listen: [...listen] },
    transports: [options.transport === 'tcp' ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { dialTimeout: options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS },
    // The node's ConnectionGate, asked once the remote peer id is authenticated (Noise) on
    // inbound connections and before dialling out.
    connectionGater: {
      denyDialPeer: refused,
      denyInboundEncryptedConnection: refused,
      denyInboundUpgradedConnection: refused,
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictSign,
        emitSelf: false,
        // Topic validators run to completion before delivery and forwarding.
        asyncValidation: false,
        allowPublishToZeroTopicPeers: true,
        // Only our four topics: subscription and message-cache state stays bounded.
        allowedTopics: Object.values(TOPICS),
        canRelayMessage: false,
        fallbackToFloodsub: false,
        heartbeatInterval: gossipOptions.heartbeatIntervalMs,
        maxInboundDataLength: gossipOptions.maxRpcBytes,
        // Rejected messages cost their sender score; see peer-scoring.ts for the tuning.
        scoreParams: SPOTTED_SCORE_PARAMS,
        scoreThresholds: SPOTTED_SCORE_THRESHOLDS,
      }),
    },
  });
  return createNetwork(node, selfId, gossipOptions, requestOptions, gateHolder);
}

function defaultListenAddresses(
  transport: Libp2pNetworkOptions['transport'],
  peerId: Libp2pPeerId,
): string[] {
  return transport === 'tcp' ? ['/ip4/127.0.0.1/tcp/0'] : [`/memory/${peerId.toString()}`];
}

function createNetwork(
  node: Libp2p<Services>,
  selfId: Libp2pPeerId,
  gossipOptions: Libp2pGossipOptions,
  requestOptions: Libp2pRequestOptions,
  gateHolder: GateHolder,
): Network {
  const log = node.logger.forComponent('spotted:network');
  const deadlines = createDeadlines();
  const pubsub = node.services.pubsub;
  /** Topics subscribed through this port (their validators are ours to remove). */
  const subscribedTopics = new Set<Topic>();
  let peerEvents: PeerEvents = {};
  let lifecycle: 'created' | 'started' | 'stopped' = 'created';
  /** Aborted by stop(): pending requests, inbound handlers and gossip judgements end with it. */
  const stopController = new AbortController();

  const notify = (event: keyof PeerEvents, peer: PeerId): void => {
    try {
      peerEvents[event]?.(peer);
    } catch (error) {
      log.error('%s callback threw: %e', event, error);
    }
  };
  const onPeerConnect = (event: CustomEvent<Libp2pPeerId>): void =>
    notify('onPeerConnected', event.detail.toString());
  const onPeerDisconnect = (event: CustomEvent<Libp2pPeerId>): void =>
    notify('onPeerDisconnected', event.detail.toString());

  const notRunning = (action: string): NetworkError =>
    new NetworkError(
      'NETWORK_STOPPED',
      `cannot ${action}: the network ${lifecycle === 'created' ? 'has not started' : 'has stopped'}`,
    );
  const assertRunning = (action: string): void => {
    if (lifecycle !== 'started') throw notRunning(action);
  };

  return {
    peerId: selfId.toString(),

    async start() {
      // A stopped libp2p node is not restarted: create a new network instead.
      if (lifecycle !== 'created') throw notRunning('start again');
      node.addEventListener('peer:connect', onPeerConnect);
      node.addEventListener('peer:disconnect', onPeerDisconnect);
      await node.start();
      lifecycle = 'started';
    },

    async stop() {
      if (lifecycle === 'stopped') return;
      const wasStarted = lifecycle === 'started';
      lifecycle = 'stopped';
      stopController.abort(new NetworkError('NETWORK_STOPPED', 'the network stopped'));
      for (const topic of subscribedTopics) pubsub.topicValidators.delete(topic);
      subscribedTopics.clear();
      if (wasStarted) await node.stop();
      node.removeEventListener('peer:connect', onPeerConnect);
      node.removeEventListener('peer:disconnect', onPeerDisconnect);
      deadlines.clearAll();
    },

    listenAddresses() {
      return node.getMultiaddrs().map((address) => address.toString());
    },

    async dial(address, dialOptions) {
      assertRunning('dial');
      let target: ReturnType<typeof multiaddr>;
      try {
        target = multiaddr(address);
      } catch (error) {
        throw new NetworkError('PEER_UNREACHABLE', `${address} is not a multiaddr`, {
          cause: error,
        });
      }
      const targetPeer = target.getComponents().find((c) => c.name === 'p2p')?.value;
      const refusal =
        targetPeer === undefined ? undefined : gateHolder.gate?.refusePeer(targetPeer);
      if (refusal !== undefined) {
        throw new NetworkError(
          'PEER_UNREACHABLE',
          `${address} is refused by the gate (${refusal})`,
        );
      }
      const signal =
        dialOptions?.signal === undefined
          ? stopController.signal
          : AbortSignal.any([stopController.signal, dialOptions.signal]);
      try {
        const connection = await node.dial(target, { signal });
        const remote = connection.remotePeer.toString();
        // An address without /p2p/ names its peer only once connected: refuse it now (a named
        // peer was asked above, and is only re-checked, uncounted).
        const refusedRemote =
          targetPeer === undefined
            ? gateHolder.gate?.refusePeer(remote)
            : gateHolder.gate?.isRefused(remote) === true
              ? 'refused'
              : undefined;
        if (refusedRemote !== undefined) {
          await connection.close().catch(() => connection.abort(new Error(refusedRemote)));
          throw new NetworkError(
            'PEER_UNREACHABLE',
            `${remote} is refused by the gate (${refusedRemote})`,
          );
        }
        return remote;
      } catch (error) {
        if (stopController.signal.aborted) throw notRunning(`dial ${address}`);
        if (dialOptions?.signal?.aborted === true) {
          throw new NetworkError('REQUEST_FAILED', `dial ${address} was aborted`, {
            cause: dialOptions.signal.reason,
          });
        }
        throw new NetworkError('PEER_UNREACHABLE', `cannot connect to ${address}`, {
          cause: error,
        });
      }
    },

    async hangUp(peer) {
      assertRunning('hang up');
      let remote: Libp2pPeerId;
      try {
        remote = peerIdFromString(peer);
      } catch {
        return; // Not a peer id, so not a peer we are connected to.
      }
      // Reset, not a graceful close: a graceful close waits for the peer's own streams to end,
      // and a hostile peer being cut off (a ban) keeps its gossip stream open and sending,
      // costing a decryption and a signature check per message until it does.
      for (const connection of node.getConnections(remote)) {
        connection.abort(new NetworkError('REQUEST_FAILED', `hung up on ${peer}`));
      }
    },

    connectedPeers() {
      return node.getPeers().map((peer) => peer.toString());
    },

    setPeerEvents(events) {
      peerEvents = events;
    },

    setConnectionGate(gate) {
      gateHolder.gate = gate;
    },

    subscribe(topic, handler, { maxMessageBytes }) {
      assertRunning(`subscribe to ${topic}`);
      if (maxMessageBytes + GOSSIP_ENVELOPE_BYTES > gossipOptions.maxRpcBytes) {
        throw new RangeError(
          `maxMessageBytes ${maxMessageBytes} for ${topic} does not fit gossip.maxRpcBytes ${gossipOptions.maxRpcBytes} (allow ${GOSSIP_ENVELOPE_BYTES} bytes of envelope)`,
        );
      }
      subscribedTopics.add(topic);
      pubsub.topicValidators.set(
        topic,
        createTopicValidator({
          topic,
          handler,
          maxMessageBytes,
          handlerTimeoutMs: gossipOptions.handlerTimeoutMs,
          deadlines,
          stopSignal: stopController.signal,
          gate: () => gateHolder.gate,
          onHandlerError: (failedTopic, error) =>
            log('gossip handler for %s threw (counted as reject): %e', failedTopic, error),
        }),
      );
      pubsub.subscribe(topic);
    },

    unsubscribe(topic) {
      if (!subscribedTopics.delete(topic)) return;
      pubsub.unsubscribe(topic);
      pubsub.topicValidators.delete(topic);
    },

    async publish(topic, data) {
      assertRunning(`publish to ${topic}`);
      if (data.length > gossipOptions.maxPublishBytes) {
        throw new MessageTooLargeError(
          `gossip message on ${topic}`,
          data.length,
          gossipOptions.maxPublishBytes,
        );
      }
      try {
        await pubsub.publish(topic, data);
      } catch (error) {
        throw new NetworkError('REQUEST_FAILED', `publish to ${topic} failed`, { cause: error });
      }
    },

    topicPeers(topic) {
      return pubsub.getSubscribers(topic).map((peer) => peer.toString());
    },

    async handle(protocol: Protocol, handler, { maxRequestBytes }) {
      assertRunning(`handle ${protocol}`);
      await node.handle(
        protocol,
        createRequestStreamHandler({
          protocol,
          handler,
          maxRequestBytes,
          inboundTimeoutMs: requestOptions.inboundTimeoutMs,
          deadlines,
          stopSignal: stopController.signal,
          gate: () => gateHolder.gate,
          log,
        }),
        {
          force: true,
          maxInboundStreams: requestOptions.maxStreamsPerProtocol,
          maxOutboundStreams: requestOptions.maxStreamsPerProtocol,
        },
      );
    },

    async unhandle(protocol) {
      if (lifecycle !== 'started') return;
      await node.unhandle(protocol);
    },

    request(peer, protocol, data, options) {
      if (lifecycle !== 'started') {
        return Promise.reject(notRunning(`send a ${protocol} request`));
      }
      return sendRequest({
        node,
        peer,
        protocol,
        data,
        options,
        maxStreamsPerProtocol: requestOptions.maxStreamsPerProtocol,
        deadlines,
        stopSignal: stopController.signal,
      });
    },
  };
}
