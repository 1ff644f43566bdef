import type { JournaledMap } from './journaled-map.ts';

/**
 * A unique index beside an insert-only memory table (the tables are keyed by their primary keys
 * only): a row's natural key → its id, so an insert finds the row it would duplicate without
 * scanning the table. Built from the table on first use and told of every insert. It needs no
 * undo of its own: the rows are never updated or deleted and their ids (BIGSERIAL) never reused,
 * so an entry whose insert was rolled back points at an id the table no longer holds, and reads
 * as absent.
 */
export class InsertOnlyUniqueIndex<Row> {
  readonly #entriesByTable = new WeakMap<JournaledMap<number, Row>, Map<string, number>>();
  /** Undefined for a row the constraint does not apply to (a NULL in its columns). */
  readonly #naturalKey: (row: Row) => string | undefined;
  readonly #id: (row: Row) => number;

  constructor(naturalKey: (row: Row) => string | undefined, id: (row: Row) => number) {
    this.#naturalKey = naturalKey;
    this.#id = id;
  }

  /** The stored row with this natural key, if any. */
  find(table: JournaledMap<number, Row>, naturalKey: string): Row | undefined {
    const id = this.#entries(table).get(naturalKey);
    return id === undefined ? undefined : table.get(id);
  }

  /** Records a row just inserted into `table`. */
  add(table: JournaledMap<number, Row>, row: Row): void {
    const key = this.#naturalKey(row);
    if (key !== undefined) this.#entries(table).set(key, this.#id(row));
  }

  #entries(table: JournaledMap<number, Row>): Map<string, number> {
    let entries = this.#entriesByTable.get(table);
    if (entries === undefined) {
      entries = new Map();
      for (const row of table.values()) {
        const key = this.#naturalKey(row);
        if (key !== undefined) entries.set(key, this.#id(row));
      }
      this.#entriesByTable.set(table, entries);
    }
    return entries;
  }
}
