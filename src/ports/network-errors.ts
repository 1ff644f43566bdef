/** Typed network errors with stable codes, shared by every Network adapter. */

export type NetworkErrorCode =
  | 'MESSAGE_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'REQUEST_FAILED'
  | 'PEER_UNREACHABLE'
  | 'NO_HANDLER'
  | 'NETWORK_STOPPED';

export class NetworkError extends Error {
  readonly code: NetworkErrorCode;
  constructor(code: NetworkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'NetworkError';
  }
}

export class MessageTooLargeError extends NetworkError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(what: string, sizeBytes: number, limitBytes: number) {
    super('MESSAGE_TOO_LARGE', `${what} is ${sizeBytes} bytes, over the ${limitBytes}-byte limit`);
    this.name = 'MessageTooLargeError';
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}
