import {
  type PGlite,
  parse,
  protocol,
  type QueryOptions,
  type Results,
  type Transaction,
} from '@electric-sql/pglite';

/**
 * `PGlite.query` with parameters costs six protocol exchanges with the embedded backend (Parse,
 * Describe statement, Bind, Describe portal, Execute, Sync — each a separate trip through the
 * WASM main loop) and re-parses and re-plans the SQL every time. This runs the same query as a
 * named prepared statement in ONE exchange (Bind + Describe + Execute + Sync), preparing it the
 * first time its text is seen (Parse + Describe statement + Sync, to learn the parameter types).
 *
 * The result is the one `PGlite.query` returns, value for value: parameters are turned into text
 * by PGlite's own serializers, chosen by the type Postgres inferred for each parameter (exactly
 * what `query` does after its Describe), and rows are parsed by PGlite's own `parseResults`.
 * Errors are PGlite's `DatabaseError`s, with `query` / `params` / `queryOptions` attached the way
 * `query` attaches them.
 *
 * Prepared statements live in the backend, so the cache is per PGlite instance, shared by every
 * store on it (their SQL is schema-qualified, so texts never collide). It is bounded: when it is
 * full, the least recently used eighth is closed. A statement whose preparing exchange
 * failed is closed and prepared again next time, so a failed Parse never leaves a stale name.
 */

/**
 * Distinct SQL texts kept prepared per instance. Kysely makes one text per query shape and schema
 * (an operator store has ≈ 20 query sites, the registry ≈ 80, some with a few variants), so the
 * simulator at N = 128 needs a few thousand. A statement costs the backend ≈ 12 KiB (2000
 * prepared: +24 MiB RSS), so the bound is ≈ 120 MiB at worst.
 */
export const DEFAULT_PREPARED_STATEMENT_CAPACITY = 10_000;

interface PreparedStatement {
  readonly name: string;
  /** Parameter type OIDs as Postgres inferred them (the Describe statement answer). */
  readonly paramTypes: readonly number[];
  /** The cache's use counter at the last use: the smallest are evicted first. */
  lastUsed: number;
}

interface StatementCache {
  readonly capacity: number;
  readonly statements: Map<string, PreparedStatement>;
  /** Names to close at the start of the next exchange (evicted, or possibly half-prepared). */
  readonly pendingCloses: Set<string>;
  nextId: number;
  uses: number;
}

const caches = new WeakMap<PGlite, StatementCache>();

function cacheFor(pglite: PGlite, capacity: number): StatementCache {
  let cache = caches.get(pglite);
  if (cache === undefined) {
    cache = { capacity, statements: new Map(), pendingCloses: new Set(), nextId: 1, uses: 0 };
    caches.set(pglite, cache);
  }
  return cache;
}

/** Which PGlite query options this path reproduces; anything else goes through `query`. */
export function isPreparableOptions(options: QueryOptions | undefined): boolean {
  if (options === undefined) return true;
  return (
    options.blob === undefined && options.paramTypes === undefined && options.onNotice === undefined
  );
}

export interface PreparedQueryOptions {
  /**
   * Prepared statements kept per instance (default DEFAULT_PREPARED_STATEMENT_CAPACITY); read
   * when the instance's cache is made, i.e. by its first query through this module.
   */
  capacity?: number;
}

/**
 * Runs `sql` outside any transaction, like `pglite.query(sql, params, options)`: it waits for an
 * open transaction to finish and syncs the file system afterwards.
 */
export async function queryPrepared<Row>(
  pglite: PGlite,
  sql: string,
  params: readonly unknown[] = [],
  options?: QueryOptions,
  cacheOptions: PreparedQueryOptions = {},
): Promise<Results<Row>> {
  if (!isPreparableOptions(options)) return pglite.query<Row>(sql, [...params], options);
  await pglite._checkReady();
  return pglite._runExclusiveTransaction(async () => {
    const result = await pglite._runExclusiveQuery(() =>
      runPrepared<Row>(pglite, sql, params, options, cacheOptions),
    );
    await pglite.syncToFs();
    return result;
  });
}

/**
 * Runs `sql` inside `tx` (a transaction `pglite.transaction` opened), like `tx.query(...)`: no
 * file-system sync until the transaction ends.
 */
export async function queryPreparedInTransaction<Row>(
  pglite: PGlite,
  tx: Transaction,
  sql: string,
  params: readonly unknown[] = [],
  options?: QueryOptions,
  cacheOptions: PreparedQueryOptions = {},
): Promise<Results<Row>> {
  if (!isPreparableOptions(options)) return tx.query<Row>(sql, [...params], options);
  if (tx.closed) throw new Error('Transaction is closed');
  return pglite._runExclusiveQuery(() =>
    runPrepared<Row>(pglite, sql, params, options, cacheOptions),
  );
}

/** Must run under PGlite's query mutex: the cache and the backend's statements change together. */
async function runPrepared<Row>(
  pglite: PGlite,
  sql: string,
  params: readonly unknown[],
  options: QueryOptions | undefined,
  cacheOptions: PreparedQueryOptions,
): Promise<Results<Row>> {
  const cache = cacheFor(pglite, cacheOptions.capacity ?? DEFAULT_PREPARED_STATEMENT_CAPACITY);
  try {
    const statement = await lookUpOrPrepare(pglite, cache, sql);
    const values = statement.paramTypes.map((type, index) => {
      const value = params[index];
      if (value === null || value === undefined) return null;
      const serializer = options?.serializers?.[type] ?? pglite.serializers[type];
      return serializer ? serializer(value) : String(value);
    });
    const messages = await exchange(pglite, cache, [
      protocol.serialize.bind({ statement: statement.name, values }),
      protocol.serialize.describe({ type: 'P' }),
      protocol.serialize.execute({}),
      protocol.serialize.sync(),
    ]);
    // Per-query parsers override the instance's through the prototype chain: `parseResults` would
    // otherwise copy the instance's whole table (hundreds of types) into a new object per call.
    const parsers =
      options?.parsers === undefined
        ? pglite.parsers
        : (Object.assign(Object.create(pglite.parsers), options.parsers) as typeof pglite.parsers);
    const [result] = parse.parseResults(
      messages,
      parsers,
      options?.rowMode === undefined ? {} : { rowMode: options.rowMode },
    );
    return result as Results<Row>;
  } catch (error) {
    throw attachQuery(error, sql, params, options);
  }
}

async function lookUpOrPrepare(
  pglite: PGlite,
  cache: StatementCache,
  sql: string,
): Promise<PreparedStatement> {
  cache.uses += 1;
  const cached = cache.statements.get(sql);
  if (cached !== undefined) {
    cached.lastUsed = cache.uses;
    return cached;
  }
  const name = `spotted_stmt_${cache.nextId++}`;
  let messages: Awaited<ReturnType<typeof exchange>>;
  try {
    messages = await exchange(pglite, cache, [
      protocol.serialize.parse({ name, text: sql }),
      protocol.serialize.describe({ type: 'S', name }),
      protocol.serialize.sync(),
    ]);
  } catch (error) {
    // The Parse may or may not have run before the error: make sure the name is gone.
    cache.pendingCloses.add(name);
    throw error;
  }
  const statement: PreparedStatement = {
    name,
    paramTypes: parse.parseDescribeStatementResults(messages),
    lastUsed: cache.uses,
  };
  cache.statements.set(sql, statement);
  if (cache.statements.size > cache.capacity) evictLeastRecentlyUsed(cache);
  return statement;
}

/** Closes the least recently used eighth of the cache (at least one), so eviction is rare. */
function evictLeastRecentlyUsed(cache: StatementCache): void {
  const count = Math.max(1, Math.floor(cache.capacity / 8));
  const oldestFirst = [...cache.statements].sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
  for (const [sql, statement] of oldestFirst.slice(0, count)) {
    cache.statements.delete(sql);
    cache.pendingCloses.add(statement.name);
  }
}

/**
 * One trip through the backend: pending Closes first, then `messages`. Throws the first
 * ErrorResponse as PGlite's DatabaseError (the backend skips to the Sync after an error).
 */
async function exchange(
  pglite: PGlite,
  cache: StatementCache,
  messages: readonly Uint8Array[],
): Promise<BackendMessages> {
  const closing = [...cache.pendingCloses];
  const parts = [
    ...closing.map((name) => protocol.serialize.close({ type: 'S', name })),
    ...messages,
  ];
  const result = await pglite.execProtocol(concatenate(parts), { syncToFs: false });
  for (const name of closing) cache.pendingCloses.delete(name);
  return result.messages;
}

type BackendMessages = Parameters<typeof parse.parseResults>[0];

function concatenate(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const buffer = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    buffer.set(part, offset);
    offset += part.length;
  }
  return buffer;
}

/** What `PGlite.query` attaches to a DatabaseError, so error handlers see the same object. */
function attachQuery(
  error: unknown,
  sql: string,
  params: readonly unknown[],
  options: QueryOptions | undefined,
): unknown {
  if (error instanceof protocol.messages.DatabaseError) {
    Object.assign(error, { query: sql, params: [...params], queryOptions: options });
  }
  return error;
}
