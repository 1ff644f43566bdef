/**
 * How both adapters turn Postgres text values into JavaScript. Drivers default NUMERIC to a
 * string (pg) and INT8 to a string or a lossy number; the store needs exact uint256 values as
 * bigint and bounded integers (epochs, chain ids, ids) as number. Adapters install these
 * per connection or per query, never as a global default of the driver module.
 */

export const NUMERIC_TYPE_OID = 1700;
export const INT8_TYPE_OID = 20;

/** NUMERIC(78) → bigint, exactly. Our NUMERIC columns have scale 0, as do their SUMs. */
export function parseNumericAsBigint(text: string): bigint {
  if (!/^-?\d+$/.test(text)) {
    throw new RangeError(
      `NUMERIC value ${text} is not an integer; the store only reads integer NUMERIC columns`,
    );
  }
  return BigInt(text);
}

/** INT8 → number, refusing values a number cannot hold exactly. */
export function parseInt8AsNumber(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`INT8 value ${text} does not fit a JavaScript number exactly`);
  }
  return value;
}

/** The parsers keyed by type OID, in the shape PGlite's `parsers` option takes. */
export const STORE_TYPE_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [NUMERIC_TYPE_OID]: parseNumericAsBigint,
  [INT8_TYPE_OID]: parseInt8AsNumber,
};
