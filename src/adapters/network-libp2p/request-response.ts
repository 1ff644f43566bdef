import type { Libp2p, Logger, Stream, StreamHandler } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type {
  ConnectionGate,
  PeerId,
  Protocol,
  RequestHandler,
  RequestOptions,
} from '../../ports/network.ts';
import { MessageTooLargeError, NetworkError } from '../../ports/network-errors.ts';
import type { Deadlines } from './deadlines.ts';
import { encodeFrame, readFrame } from './framing.ts';

/**
 * Request/response over libp2p streams: one stream per exchange, the caller writes one
 * length-prefixed request and closes its writing end, the handler writes one length-prefixed
 * response and closes. Anything else (a reset, an early close, a frame over the cap) fails the
 * exchange.
 */

export interface SendRequestArgs {
  node: Libp2p;
  peer: PeerId;
  protocol: Protocol;
  data: Uint8Array;
  options: RequestOptions;
  maxStreamsPerProtocol: number;
  deadlines: Deadlines;
  stopSignal: AbortSignal;
}

/**
 * Dials (or reuses a connection), opens a stream, exchanges one request and one response, all
 * within `options.timeoutMs`. Failures are NetworkErrors: PEER_UNREACHABLE when no connection can
 * be made, NO_HANDLER when the peer does not speak the protocol (multistream-select tells), the
 * caps as MessageTooLargeError, REQUEST_TIMEOUT, NETWORK_STOPPED, and REQUEST_FAILED otherwise
 * (including a handler that threw: the stream is reset without an answer).
 */
export async function sendRequest(args: SendRequestArgs): Promise<Uint8Array> {
  const { node, peer, protocol, options } = args;
  const deadline = args.deadlines.start(
    options.timeoutMs,
    () =>
      new NetworkError(
        'REQUEST_TIMEOUT',
        `${protocol} request to ${peer} did not complete within ${options.timeoutMs} ms`,
      ),
  );
  const sources = [deadline.signal, args.stopSignal];
  if (options.signal !== undefined) sources.push(options.signal);
  const signal = AbortSignal.any(sources);
  /** Why the exchange was cut short, if it was: our stop, the deadline, or the caller. */
  const abortError = (): NetworkError | undefined => {
    if (args.stopSignal.aborted) {
      return new NetworkError('NETWORK_STOPPED', `${protocol} request to ${peer}: network stopped`);
    }
    if (deadline.signal.aborted) return asNetworkError(deadline.signal.reason, protocol, peer);
    if (signal.aborted) {
      return new NetworkError('REQUEST_FAILED', `${protocol} request to ${peer} was aborted`, {
        cause: signal.reason,
      });
    }
    return undefined;
  };

  let stream: Stream | undefined;
  const abortStream = (): void => stream?.abort(toError(signal.reason));
  signal.addEventListener('abort', abortStream, { once: true });
  try {
    if (signal.aborted) throw signal.reason;
    const remote = parsePeerId(peer, protocol);
    let connection: Awaited<ReturnType<Libp2p['dial']>>;
    try {
      connection = await node.dial(remote, { signal });
    } catch (error) {
      throw (
        abortError() ??
        new NetworkError('PEER_UNREACHABLE', `${protocol}: cannot connect to ${peer}`, {
          cause: error,
        })
      );
    }
    try {
      stream = await connection.newStream(protocol, {
        signal,
        maxOutboundStreams: args.maxStreamsPerProtocol,
      });
    } catch (error) {
      throw (
        abortError() ??
        (isUnsupportedProtocol(error)
          ? new NetworkError('NO_HANDLER', `${peer} has no handler for ${protocol}`, {
              cause: error,
            })
          : new NetworkError('REQUEST_FAILED', `${protocol}: cannot open a stream to ${peer}`, {
              cause: error,
            }))
      );
    }
    stream.send(encodeFrame(args.data));
    await stream.close({ signal });
    return await readFrame(stream, options.maxResponseBytes, `${protocol} response from ${peer}`);
  } catch (error) {
    const failure = abortError() ?? asNetworkError(error, protocol, peer);
    stream?.abort(failure);
    throw failure;
  } finally {
    signal.removeEventListener('abort', abortStream);
    deadline.cancel();
  }
}

export interface ServeRequestsArgs {
  protocol: Protocol;
  handler: RequestHandler;
  maxRequestBytes: number;
  inboundTimeoutMs: number;
  deadlines: Deadlines;
  stopSignal: AbortSignal;
  /** The node's admission policy at the time of the request, if any. */
  gate?: () => ConnectionGate | undefined;
  log: Logger;
}

/**
 * The libp2p stream handler for one protocol: reads a request of at most `maxRequestBytes`
 * (refusing a longer one from its length prefix, before the handler runs), answers it, and resets
 * the stream when anything fails or the inbound deadline passes.
 */
export function createRequestStreamHandler(args: ServeRequestsArgs): StreamHandler {
  const { protocol, handler } = args;
  return async (stream, connection) => {
    const from = connection.remotePeer.toString();
    const gate = args.gate?.();
    const refusal = gate?.refuseMessage(from, protocol);
    if (refusal !== undefined) {
      args.log('%s request from %s refused: %s', protocol, from, refusal);
      stream.abort(new NetworkError('REQUEST_FAILED', `${protocol} refused: ${refusal}`));
      return;
    }
    const deadline = args.deadlines.start(
      args.inboundTimeoutMs,
      () =>
        new NetworkError(
          'REQUEST_TIMEOUT',
          `${protocol} request from ${from} not answered within ${args.inboundTimeoutMs} ms`,
        ),
    );
    // The handler's signal also aborts when the caller gives up (resets the stream), so that a
    // handler doing slow work for an answer nobody will read can stop.
    const callerGone = new AbortController();
    const onStreamClose = (): void =>
      callerGone.abort(
        new NetworkError('REQUEST_FAILED', `${protocol} request from ${from}: stream closed`),
      );
    stream.addEventListener('close', onStreamClose, { once: true });
    const signal = AbortSignal.any([deadline.signal, args.stopSignal, callerGone.signal]);
    const abortStream = (): void => stream.abort(toError(signal.reason));
    signal.addEventListener('abort', abortStream, { once: true });
    try {
      const data = await readFrame(
        stream,
        args.maxRequestBytes,
        `${protocol} request from ${from}`,
      );
      const response = await handler({ protocol, from, data, signal });
      if (!(response instanceof Uint8Array)) {
        throw new TypeError(`${protocol} handler returned ${typeof response}, not bytes`);
      }
      if (signal.aborted) throw signal.reason;
      stream.send(encodeFrame(response));
      await stream.close({ signal });
    } catch (error) {
      if (error instanceof MessageTooLargeError)
        gate?.onRejected({ reason: 'oversize', channel: protocol, peer: from });
      args.log('%s request from %s failed: %e', protocol, from, error);
      stream.abort(toError(error));
    } finally {
      signal.removeEventListener('abort', abortStream);
      stream.removeEventListener('close', onStreamClose);
      deadline.cancel();
    }
  };
}

function parsePeerId(peer: PeerId, protocol: Protocol): ReturnType<typeof peerIdFromString> {
  try {
    return peerIdFromString(peer);
  } catch (error) {
    throw new NetworkError('PEER_UNREACHABLE', `${protocol}: ${peer} is not a valid peer id`, {
      cause: error,
    });
  }
}

/** js-libp2p errors are matched by `name` (their documented convention), never by message. */
function isUnsupportedProtocol(error: unknown): boolean {
  return error instanceof Error && error.name === 'UnsupportedProtocolError';
}

function asNetworkError(error: unknown, protocol: Protocol, peer: PeerId): NetworkError {
  if (error instanceof NetworkError) return error;
  return new NetworkError('REQUEST_FAILED', `${protocol} request to ${peer} failed`, {
    cause: error,
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
