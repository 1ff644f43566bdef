/**
 * One writer at a time for a memory store: a transaction holds the store until it ends, and any
 * call made meanwhile waits its turn (as on PGlite, which runs one transaction at a time). Single
 * calls are synchronous, so when nothing holds the store they run at once, without queueing.
 */
export class StoreLock {
  #tail: Promise<void> = Promise.resolve();
  #holders = 0;

  /** Runs `work` alone, after everything queued before it. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.#holders += 1;
    const result = this.#tail.then(work);
    this.#tail = result.then(
      () => this.#release(),
      () => this.#release(),
    );
    return result;
  }

  /** Runs synchronous `work` now if nothing holds the store, otherwise after what is queued. */
  immediate<T>(work: () => T): Promise<T> {
    if (this.#holders > 0) return this.exclusive(async () => work());
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #release(): void {
    this.#holders -= 1;
  }
}
