/** What a transaction undoes on rollback, newest first. */
export interface UndoLog {
  /** The open transaction's undo steps; undefined when none is open. */
  current: (() => void)[] | undefined;
}

/**
 * A Map whose writes, while a transaction is open, record how to undo themselves. The memory
 * store runs one transaction at a time and nothing else meanwhile, so every write made while the
 * log is open belongs to that transaction.
 */
export class JournaledMap<K, V> {
  readonly #rows = new Map<K, V>();
  readonly #undo: UndoLog;

  constructor(undo: UndoLog) {
    this.#undo = undo;
  }

  get size(): number {
    return this.#rows.size;
  }

  get(key: K): V | undefined {
    return this.#rows.get(key);
  }

  values(): IterableIterator<V> {
    return this.#rows.values();
  }

  set(key: K, value: V): void {
    this.#remember(key);
    this.#rows.set(key, value);
  }

  delete(key: K): boolean {
    if (!this.#rows.has(key)) return false;
    this.#remember(key);
    this.#rows.delete(key);
    return true;
  }

  #remember(key: K): void {
    const log = this.#undo.current;
    if (log === undefined) return;
    if (this.#rows.has(key)) {
      const before = this.#rows.get(key) as V;
      log.push(() => this.#rows.set(key, before));
    } else {
      log.push(() => this.#rows.delete(key));
    }
  }
}
