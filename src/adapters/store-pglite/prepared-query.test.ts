import { PGlite, type QueryOptions } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_TYPE_PARSERS } from '../../store/value-parsers.ts';
import { queryPrepared, queryPreparedInTransaction } from './prepared-query.ts';

const OBJECT_ROWS: QueryOptions = { rowMode: 'object' };

/** The outcome of a query, or of its failure, in a form two runs can be compared by. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (error) {
    const fields = error as Partial<
      Record<'message' | 'code' | 'constraint' | 'table' | 'detail', unknown>
    >;
    return {
      failed: {
        message: fields.message,
        code: fields.code,
        constraint: fields.constraint,
        table: fields.table,
        detail: fields.detail,
      },
    };
  }
}

async function preparedStatementCount(pglite: PGlite): Promise<number> {
  const { rows } = await pglite.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM pg_prepared_statements',
  );
  return rows[0]?.count ?? -1;
}

describe('queryPrepared', () => {
  let pglite: PGlite;

  beforeAll(async () => {
    pglite = await PGlite.create();
    await pglite.exec(`
      CREATE SCHEMA s;
      CREATE DOMAIN s.uint256 AS NUMERIC(78) CHECK (VALUE >= 0 AND VALUE < 2 ^ 256);
      CREATE TABLE s.items (
        id TEXT PRIMARY KEY,
        weight s.uint256 NOT NULL,
        seen_at TIMESTAMPTZ,
        payload JSONB,
        raw BYTEA,
        flag BOOLEAN,
        count BIGINT
      );
      CREATE TABLE s.via_query (id TEXT PRIMARY KEY, weight s.uint256 NOT NULL, raw BYTEA);
      CREATE TABLE s.via_prepared (id TEXT PRIMARY KEY, weight s.uint256 NOT NULL, raw BYTEA);
    `);
  });

  afterAll(async () => {
    await pglite.close();
  });

  it('returns exactly what PGlite.query returns, for random values of every type the store uses', async () => {
    const sql =
      'SELECT $1::text AS t, $2::numeric AS n, $3::bytea AS b, $4::jsonb AS j, $5::boolean AS f, ' +
      '$6::timestamptz AS d, $7::bigint AS i, $8::float8 AS x';
    const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(
          fc.option(fc.string({ unit: 'binary' }), { nil: null }),
          fc.option(fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }), { nil: null }),
          fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
          fc.option(jsonValue, { nil: null }),
          fc.option(fc.boolean(), { nil: null }),
          fc.option(fc.date({ noInvalidDate: true }), { nil: null }),
          fc.option(fc.integer(), { nil: null }),
          fc.option(fc.double({ noNaN: true }), { nil: null }),
        ),
        fc.boolean(),
        async (params, storeParsers) => {
          // With the store's own parsers (NUMERIC → bigint, INT8 → number) and without.
          const options: QueryOptions = storeParsers
            ? { rowMode: 'object', parsers: { ...STORE_TYPE_PARSERS } }
            : OBJECT_ROWS;
          const expected = await outcome(() => pglite.query(sql, params, options));
          const actual = await outcome(() => queryPrepared(pglite, sql, params, options));
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes through domain-typed parameters the same way, byte for byte', async () => {
    const upsert = (table: string) =>
      `INSERT INTO s.${table} (id, weight, raw) VALUES ($1, $2, $3) ` +
      'ON CONFLICT (id) DO UPDATE SET weight = excluded.weight, raw = excluded.raw ' +
      'RETURNING id, weight, raw';
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', minLength: 1 }),
        fc.bigInt({ min: -1n, max: 2n ** 256n }),
        fc.uint8Array({ maxLength: 32 }),
        async (id, weight, raw) => {
          const params = [id, weight, raw];
          const expected = await outcome(() =>
            pglite.query(upsert('via_query'), params, OBJECT_ROWS),
          );
          const actual = await outcome(() =>
            queryPrepared(pglite, upsert('via_prepared'), params, OBJECT_ROWS),
          );
          // Same outcome, up to the table name an error may mention.
          expect(JSON.stringify(actual).replaceAll('via_prepared', 'via_query')).toEqual(
            JSON.stringify(expected),
          );
        },
      ),
      { numRuns: 200 },
    );
    const stored =
      "SELECT id, weight::text AS weight, encode(raw, 'hex') AS raw FROM s.%s ORDER BY id";
    const viaQuery = await pglite.query(stored.replace('%s', 'via_query'));
    const viaPrepared = await pglite.query(stored.replace('%s', 'via_prepared'));
    expect(viaPrepared.rows).toEqual(viaQuery.rows);
  });

  it('fails with the same DatabaseError fields, and attaches the query like PGlite.query', async () => {
    const insert = 'INSERT INTO s.items (id, weight) VALUES ($1, $2)';
    await queryPrepared(pglite, insert, ['dup', 1n]);
    const expected = await outcome(() => pglite.query(insert, ['dup', 1n]));
    const actual = await outcome(() => queryPrepared(pglite, insert, ['dup', 1n]));
    expect(actual).toEqual(expected);
    expect(actual).toMatchObject({ failed: { code: '23505', constraint: 'items_pkey' } });
    const error = await queryPrepared(pglite, insert, ['dup', 2n]).catch((e: unknown) => e);
    expect(error).toMatchObject({ query: insert, params: ['dup', 2n] });
  });

  it('recovers from a statement that fails to parse, and never leaves it prepared', async () => {
    const before = await preparedStatementCount(pglite);
    const broken = 'SELEC $1::int AS x';
    const expected = await outcome(() => pglite.query(broken, [1]));
    expect(await outcome(() => queryPrepared(pglite, broken, [1]))).toEqual(expected);
    expect(await outcome(() => queryPrepared(pglite, broken, [1]))).toEqual(expected);
    const fine = await queryPrepared(pglite, 'SELECT $1::int + 1 AS x', [41], OBJECT_ROWS);
    expect(fine.rows).toEqual([{ x: 42 }]);
    expect(await preparedStatementCount(pglite)).toBe(before + 1);
  });

  it('keeps at most `capacity` statements prepared, closing the least recently used', async () => {
    const small = await PGlite.create();
    try {
      for (let round = 0; round < 3; round++) {
        for (let shape = 0; shape < 5; shape++) {
          const result = await queryPrepared(
            small,
            `SELECT $1::int + ${shape} AS x`,
            [round],
            OBJECT_ROWS,
            { capacity: 2 },
          );
          expect(result.rows).toEqual([{ x: round + shape }]);
          // The evicted statement is closed at the start of the next exchange.
          expect(await preparedStatementCount(small)).toBeLessThanOrEqual(3);
        }
      }
    } finally {
      await small.close();
    }
  });

  it('inside a transaction: sees its writes, fails like tx.query once it is aborted, rolls back', async () => {
    const insert = 'INSERT INTO s.items (id, weight) VALUES ($1, $2)';
    const select = 'SELECT id FROM s.items WHERE id = $1';
    const failure = await pglite
      .transaction(async (tx) => {
        await queryPreparedInTransaction(pglite, tx, insert, ['in-tx', 5n]);
        const seen = await queryPreparedInTransaction(pglite, tx, select, ['in-tx'], OBJECT_ROWS);
        expect(seen.rows).toEqual([{ id: 'in-tx' }]);
        await queryPreparedInTransaction(pglite, tx, insert, ['in-tx', 5n]).catch(() => {});
        const expected = await outcome(() => tx.query(select, ['in-tx']));
        const actual = await outcome(() =>
          queryPreparedInTransaction(pglite, tx, select, ['in-tx']),
        );
        expect(actual).toEqual(expected);
        expect(actual).toMatchObject({ failed: { code: '25P02' } });
        throw new Error('roll back');
      })
      .catch((error: unknown) => error);
    expect(failure).toEqual(new Error('roll back'));
    const after = await queryPrepared(pglite, select, ['in-tx'], OBJECT_ROWS);
    expect(after.rows).toEqual([]);
  });

  it('outside a transaction, waits for an open one to finish (as PGlite.query does)', async () => {
    const order: string[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = pglite.transaction(async (tx) => {
      await tx.query("INSERT INTO s.items (id, weight) VALUES ('held', 1)");
      await held;
      order.push('commit');
    });
    const outside = queryPrepared(pglite, 'SELECT id FROM s.items WHERE id = $1', ['held'], {
      rowMode: 'object',
    }).then((result) => {
      order.push('query');
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await transaction;
    expect((await outside).rows).toEqual([{ id: 'held' }]);
    expect(order).toEqual(['commit', 'query']);
  });
});
