/**
 * Why a proof request was refused. Each code maps to one HTTP status in the API adapter, and
 * every message names the field or the condition to fix.
 */
export type ProofRequestErrorCode =
  /** A field is missing or malformed (400). */
  | 'INVALID_REQUEST'
  /** The chain id is not one this network proves (400). */
  | 'UNKNOWN_CHAIN'
  /** The StateManager holds no value for that user and key at that point (404). */
  | 'NO_HISTORY'
  /** The block or time asked for is not on the chain yet (400). */
  | 'POINT_IN_FUTURE'
  /** No epoch has been advanced yet, so no operator set exists (503). */
  | 'NOT_READY'
  /** The state chain's RPC failed (503). */
  | 'CHAIN_UNAVAILABLE'
  /** Too many tasks in flight (503). */
  | 'OVERLOADED'
  /**
   * A delivery the request asked for cannot be made by this node: no webhook sender, or no
   * consumer contract on the chain named by `submitToChainId` (400).
   */
  | 'DELIVERY_UNAVAILABLE';

export class ProofRequestError extends Error {
  readonly code: ProofRequestErrorCode;
  /** The request field at fault, when one is. */
  readonly field: string | undefined;
  /** For a refusal that passes by itself: when to ask again (the API's `Retry-After`). */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: ProofRequestErrorCode,
    message: string,
    options?: { field?: string; cause?: unknown; retryAfterSec?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProofRequestError';
    this.code = code;
    this.field = options?.field;
    this.retryAfterSec = options?.retryAfterSec;
  }
}

/** A queue job whose payload this build cannot read: it is dead-lettered with this message. */
export class JobPayloadError extends Error {
  readonly code = 'BAD_JOB_PAYLOAD';
  override readonly name = 'JobPayloadError';
  readonly queue: string;

  constructor(queue: string, problem: string) {
    super(`${queue} job payload: ${problem}`);
    this.queue = queue;
  }
}
