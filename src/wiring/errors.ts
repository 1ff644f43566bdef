/** Errors of the production wiring (kept apart so the CLI can import them cheaply). */

/** A configured consumer could not be reached or is not a SpottedConsumer; names the key. */
export class ConsumerSetupError extends Error {
  override readonly name = 'ConsumerSetupError';
  readonly code = 'CONSUMER_SETUP_FAILED';
  /** The configuration key to change, e.g. `consumers.0.address`. */
  readonly key: string;
  constructor(key: string, message: string, cause?: unknown) {
    super(`${message} [config: ${key}]`, { cause });
    this.key = key;
  }
}
