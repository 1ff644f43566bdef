import { BinaryReader } from '@bufbuild/protobuf/wire';
import type { MessageFns } from '../generated/proto/spotted/v1/messages.pb.ts';
import { WireValidationError } from './errors.ts';

/**
 * The protobuf step of every codec: the byte cap first (nothing oversize is parsed), then a strict
 * decode (invalid UTF-8 in a string and bytes left after an end marker are malformed, not
 * ignored). Field validation follows in each message family's `decodeX`.
 */

/** proto3 strings must be UTF-8; the default reader would silently replace bad sequences. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeProtobuf<T>(
  messageType: string,
  messageFns: MessageFns<T>,
  bytes: Uint8Array,
  maxBytes: number,
): T {
  assertWithinCap(messageType, bytes.length, maxBytes);
  const reader = new BinaryReader(bytes, (utf8) => strictUtf8.decode(utf8));
  let message: T;
  try {
    message = messageFns.decode(reader);
  } catch (cause) {
    throw new WireValidationError({
      code: 'MALFORMED_PROTOBUF',
      messageType,
      detail: `not a protobuf ${messageType}: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    });
  }
  if (reader.pos !== bytes.length) {
    throw new WireValidationError({
      code: 'MALFORMED_PROTOBUF',
      messageType,
      detail: `decoding stopped at byte ${reader.pos} of ${bytes.length} (a stray end-group or zero tag)`,
    });
  }
  return message;
}

/** Encodes and applies the same cap a receiver would: a node never sends what peers refuse. */
export function encodeProtobuf<T>(
  messageType: string,
  messageFns: MessageFns<T>,
  message: T,
  maxBytes: number,
): Uint8Array {
  const bytes = messageFns.encode(message).finish();
  assertWithinCap(messageType, bytes.length, maxBytes);
  return bytes;
}

function assertWithinCap(messageType: string, sizeBytes: number, maxBytes: number): void {
  if (sizeBytes > maxBytes) {
    throw new WireValidationError({
      code: 'MESSAGE_TOO_LARGE',
      messageType,
      detail: `${sizeBytes} bytes, over the ${maxBytes}-byte limit`,
    });
  }
}
