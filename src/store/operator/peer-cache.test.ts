import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Address, getAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteOperatorStore,
} from '../../adapters/store-pglite/open-pglite-store.ts';
import { openPostgresOperatorStore } from '../../adapters/store-postgres/open-postgres-store.ts';
import { createPostgresStorePool } from '../../adapters/store-postgres/postgres-store-pool.ts';
import { StoreInputError } from '../errors.ts';
import type { OperatorStore } from './operator-store.ts';
import type { PeerInput } from './peer-cache.ts';

/** `peerCache.upsertMany` on both adapters (one statement for a join's discovery peers). */

const START_MS = 1_700_000_000_000;
const ADMIN_URL =
  process.env['SPOTTED_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const operatorB2: Address = getAddress('0x00000000000000000000000000000000000000b2');

interface Database {
  open(): Promise<OperatorStore>;
  close(): Promise<void>;
}

let schemas = 0;
const clock = { now: () => START_MS };

async function pgliteDatabase(): Promise<Database> {
  const pglite = await createPglite();
  return {
    open: () =>
      openPgliteOperatorStore({ pglite, clock }, { schema: `peers_${process.pid}_${++schemas}` }),
    close: () => pglite.close(),
  };
}

async function postgresDatabase(): Promise<Database> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  const database = `spotted_peers_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const pool = createPostgresStorePool({ connectionString: url.toString(), maxConnections: 2 });
  return {
    open: () =>
      openPostgresOperatorStore({ pool, clock }, { schema: `peers_${process.pid}_${++schemas}` }),
    close: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

describe.each([
  ['PGlite', pgliteDatabase],
  ['Postgres', postgresDatabase],
])('peerCache.upsertMany (%s)', (_, createDatabase) => {
  let database: Database;
  beforeAll(async () => {
    database = await createDatabase();
  }, 60_000);
  afterAll(() => database?.close());

  const peer = (n: number, overrides: Partial<PeerInput> = {}): PeerInput => ({
    peerId: `Peer${n}`,
    addresses: [`/memory/op${n}/p2p/Peer${n}`],
    lastSeenAtMs: START_MS + n,
    status: 'connected',
    ...overrides,
  });

  test('behavior: inserts new peers and replaces stored ones, returning them in the order given', async () => {
    const store = await database.open();
    await store.peerCache.upsert(peer(2, { status: 'disconnected' }));
    const records = await store.peerCache.upsertMany([
      peer(3),
      peer(2, { operatorAddress: operatorB2, lastSeenAtMs: START_MS + 50 }),
      peer(1, { addresses: [] }),
    ]);
    expect(records.map((record) => record.peerId)).toEqual(['Peer3', 'Peer2', 'Peer1']);
    expect(records[1]).toEqual({
      peerId: 'Peer2',
      operatorAddress: operatorB2,
      addresses: ['/memory/op2/p2p/Peer2'],
      lastSeenAtMs: START_MS + 50,
      status: 'connected',
    });
    for (const record of records) {
      expect(await store.peerCache.get(record.peerId)).toEqual(record);
    }
    expect(await store.peerCache.list({ limit: 10 })).toHaveLength(3);
    expect(await store.peerCache.upsertMany([])).toEqual([]);
  });

  test('behavior: a repeated peer id or a bad entry is refused by its index, and nothing is written', async () => {
    const store = await database.open();
    const repeated = store.peerCache.upsertMany([peer(1), peer(2), peer(1)]);
    await expect(repeated).rejects.toBeInstanceOf(StoreInputError);
    await expect(repeated).rejects.toMatchObject({ field: 'peers[2].peerId' });
    const bad = store.peerCache.upsertMany([
      peer(1),
      peer(2, { status: 'lost' as PeerInput['status'] }),
    ]);
    await expect(bad).rejects.toMatchObject({ field: 'peers[1].status' });
    expect(await store.peerCache.list({ limit: 10 })).toEqual([]);
  });
});
