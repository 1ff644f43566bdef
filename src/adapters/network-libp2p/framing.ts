import { MessageTooLargeError, NetworkError } from '../../ports/network-errors.ts';

/**
 * One message per stream direction, prefixed with its length as an unsigned LEB128 varint (the
 * framing every libp2p protocol uses). The reader learns the length before any payload arrives,
 * so an oversize message is refused after at most a few bytes, never buffered.
 */

/** 5 varint bytes hold 35 bits, far above any cap we set; a longer prefix is garbage. */
const MAX_LENGTH_PREFIX_BYTES = 5;

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  let rest = payload.length;
  while (rest >= 0x80) {
    prefix.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  prefix.push(rest);
  const frame = new Uint8Array(prefix.length + payload.length);
  frame.set(prefix, 0);
  frame.set(payload, prefix.length);
  return frame;
}

/**
 * Reads exactly one frame from `stream` (a libp2p Stream, or any chunk source). Throws MessageTooLargeError as soon as the prefix
 * announces more than `maxBytes`, and NetworkError('REQUEST_FAILED') when the stream ends early,
 * carries bytes after the frame, or the prefix is malformed. Stream errors (reset, abort) propagate
 * unchanged for the caller to classify.
 */
export async function readFrame(
  stream: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>,
  maxBytes: number,
  what: string,
): Promise<Uint8Array> {
  let prefixValue = 0;
  let prefixBytes = 0;
  let payload: Uint8Array | undefined;
  let received = 0;

  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    let offset = 0;
    while (payload === undefined && offset < bytes.length) {
      const byte = bytes[offset] ?? 0;
      offset += 1;
      prefixValue += (byte & 0x7f) * 2 ** (7 * prefixBytes);
      prefixBytes += 1;
      if (byte < 0x80) {
        if (prefixValue > maxBytes) throw new MessageTooLargeError(what, prefixValue, maxBytes);
        payload = new Uint8Array(prefixValue);
      } else if (prefixBytes >= MAX_LENGTH_PREFIX_BYTES) {
        throw new NetworkError('REQUEST_FAILED', `${what}: length prefix longer than 5 bytes`);
      }
    }
    if (payload === undefined) continue;
    const take = bytes.subarray(offset);
    if (received + take.length > payload.length) {
      throw new NetworkError('REQUEST_FAILED', `${what}: bytes after the end of the message`);
    }
    payload.set(take, received);
    received += take.length;
    if (received === payload.length) return payload;
  }
  throw new NetworkError(
    'REQUEST_FAILED',
    payload === undefined
      ? `${what}: the stream closed before a message arrived`
      : `${what}: the stream closed after ${received} of ${payload.length} bytes`,
  );
}
