/**
 * Why a wire message was refused, with a stable code (match on it, never on the message text).
 * Every code means the bytes themselves are wrong, so a gossip message that fails this way is
 * rejected and its sender penalised (see `toGossipVerdict`).
 */
export type WireErrorCode =
  /** Over the message type's byte cap; refused before decoding. */
  | 'MESSAGE_TOO_LARGE'
  /** Not a protobuf encoding of the message type (truncated, bad wire type, invalid UTF-8). */
  | 'MALFORMED_PROTOBUF'
  /** A fixed-width byte field (address, uint256, hash, signature) has the wrong length. */
  | 'INVALID_LENGTH'
  /** An address given for encoding is not 20 bytes of hex, or its mixed-case checksum is wrong. */
  | 'INVALID_ADDRESS'
  /** A number outside its protocol type or bounds (uint48 timestamp, safe-integer ms, chain id 0). */
  | 'OUT_OF_RANGE'
  /** An enum number or enumerated string this version does not know. */
  | 'UNKNOWN_ENUM_VALUE'
  /** A required list or text is empty. */
  | 'MISSING_FIELD'
  /** A list longer than its cap. */
  | 'TOO_MANY_ITEMS'
  /** The same operator or address listed twice. */
  | 'DUPLICATE_ITEM'
  /** A list that must be strictly ascending (operators, as the registry checks them) is not. */
  | 'NOT_SORTED'
  /** Text over its length cap, with characters it may not contain, or not well-formed Unicode. */
  | 'INVALID_TEXT'
  /** Fields that contradict each other (a response both signed and refused). */
  | 'INCONSISTENT_FIELDS';

export class WireValidationError extends Error {
  override readonly name = 'WireValidationError';
  readonly code: WireErrorCode;
  /** The protobuf message type, e.g. `Task`. */
  readonly messageType: string;
  /** The offending field as a path (`operators[3].weight`), or null for the whole message. */
  readonly field: string | null;

  constructor(args: {
    code: WireErrorCode;
    messageType: string;
    field?: string | null;
    detail: string;
    cause?: unknown;
  }) {
    const where = args.field == null ? args.messageType : `${args.messageType}.${args.field}`;
    super(`${where}: ${args.detail}`, args.cause === undefined ? undefined : { cause: args.cause });
    this.code = args.code;
    this.messageType = args.messageType;
    this.field = args.field ?? null;
  }
}
