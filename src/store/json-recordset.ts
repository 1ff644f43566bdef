import { type AliasedRawBuilder, sql } from 'kysely';

/**
 * `rows` as a table `v` with the given column definitions (`"address text, weight numeric"`), for
 * `update … from`: the rows travel as one JSON parameter, so a statement that writes many rows has
 * the same SQL text (one prepared statement) whatever their number. Numbers beyond 2^53 must be
 * passed as decimal strings and declared `numeric`: JSON numbers would lose precision.
 */
export function jsonRecordset<Row>(
  rows: readonly object[],
  columns: string,
): AliasedRawBuilder<Row, 'v'> {
  return sql<Row>`jsonb_to_recordset(cast(${JSON.stringify(rows)} as text)::jsonb)`.as<'v'>(
    sql.raw(`v(${columns})`),
  );
}

/**
 * `jsonRecordset` with each row numbered in the order given (column `ordinal`), for `insert …
 * select … from orderedJsonRecordset(…) order by v.ordinal`: rows are inserted — and the locks
 * their foreign keys and conflicts take are taken — in that order, which SQL would not otherwise
 * promise.
 */
export function orderedJsonRecordset<Row extends object>(
  rows: readonly Row[],
  columns: string,
): AliasedRawBuilder<Row & { ordinal: number }, 'v'> {
  return jsonRecordset<Row & { ordinal: number }>(
    rows.map((row, ordinal) => ({ ...row, ordinal })),
    `${columns}, ordinal int`,
  );
}
