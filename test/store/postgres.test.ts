import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  openPostgresOperatorStore,
  openPostgresRegistryStore,
} from '../../src/adapters/store-postgres/open-postgres-store.ts';
import { createPostgresStoreDriver } from '../../src/adapters/store-postgres/postgres-store-driver.ts';
import { createPostgresStorePool } from '../../src/adapters/store-postgres/postgres-store-pool.ts';
import { describeStoreCompliance } from './compliance.ts';

/**
 * The Postgres server the suite runs against; override with SPOTTED_TEST_POSTGRES_URL. Each run
 * creates its own database and drops it afterwards.
 */
const { SPOTTED_TEST_POSTGRES_URL } = process.env;
const ADMIN_URL = SPOTTED_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function connectAdmin(): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    return admin;
  } catch (error) {
    await admin.end().catch(() => {});
    throw new Error(
      [
        `PostgreSQL is not reachable at ${ADMIN_URL.replace(/\/\/[^@]*@/, '//…@')}: ${(error as Error).message}`,
        'The Store compliance suite needs a real server. Start the local one with:',
        '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
        'or point SPOTTED_TEST_POSTGRES_URL at a server whose user may CREATE DATABASE.',
      ].join('\n'),
      { cause: error },
    );
  }
}

describeStoreCompliance('Postgres', async () => {
  const admin = await connectAdmin();
  const database = `spotted_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const pool = createPostgresStorePool({ connectionString: url.toString(), maxConnections: 8 });
  return {
    openRegistryStore: (deps, options) => openPostgresRegistryStore({ ...deps, pool }, options),
    openOperatorStore: (deps, options) => openPostgresOperatorStore({ ...deps, pool }, options),
    driver: createPostgresStoreDriver(pool),
    rawQuery: async <Row>(sql: string) => (await pool.pool.query(sql)).rows as Row[],
    close: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
});
