import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import pg from 'pg';
import { type Address, getAddress, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../adapters/store-pglite/open-pglite-store.ts';
import { createPgliteStoreDriver } from '../../adapters/store-pglite/pglite-store-driver.ts';
import { openPostgresRegistryStore } from '../../adapters/store-postgres/open-postgres-store.ts';
import { createPostgresStoreDriver } from '../../adapters/store-postgres/postgres-store-driver.ts';
import { createPostgresStorePool } from '../../adapters/store-postgres/postgres-store-pool.ts';
import { unsuspendOperator } from '../../core/operator-lifecycle.ts';
import { OPERATOR_STATUSES, type OperatorStatus } from '../../core/operator-status.ts';
import { readMigrationFiles } from '../adapters/read-migration-files.ts';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB } from '../generated/registry-db.ts';
import type { Migration } from '../migrate.ts';
import {
  openStoreDatabase,
  type StoreDatabase,
  type StoreDeps,
  type StoreQueryEvent,
} from '../open-store-database.ts';
import { nowAsDate, type QueryContext } from '../query-context.ts';
import type { StoreDriver } from '../store-driver.ts';
import { applyEpochAdvance, type OperatorEpochUpdate } from './apply-epoch-advance.ts';
import { deriveOperatorCounters } from './operator-counters.ts';
import {
  createOperatorFactsRepository,
  insertOperatorFacts,
  type OperatorFact,
} from './operator-facts.ts';
import {
  createOperatorsRepository,
  type OperatorRecord,
  type OperatorRegistration,
  toOperatorRecord,
  UNSUSPENDED_STATUSES,
  updateOperator,
} from './operators.ts';
import type { RegistryStore } from './registry-store.ts';

/**
 * Counter derivation from the running fact totals (operator_fact_counts) and the one-statement
 * operator updates of an epoch advance, each checked against what the store did before (one
 * derivation counting all facts per operator; one update per operator), on PGlite and Postgres.
 */

interface Adapter {
  driver: StoreDriver;
  openRegistryStore(
    deps: StoreDeps,
    options: { schema: string; onQuery?: (event: StoreQueryEvent) => void },
  ): Promise<RegistryStore>;
  close(): Promise<void>;
}

const ADMIN_URL =
  process.env['SPOTTED_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const ADAPTERS: readonly { name: string; open(): Promise<Adapter> }[] = [
  {
    name: 'PGlite',
    async open() {
      const pglite = await createPglite();
      return {
        driver: createPgliteStoreDriver(pglite),
        openRegistryStore: (deps, options) => openPgliteRegistryStore({ ...deps, pglite }, options),
        close: () => pglite.close(),
      };
    },
  },
  {
    name: 'Postgres',
    async open() {
      const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
      await admin.connect();
      const database = `spotted_counters_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const url = new URL(ADMIN_URL);
      url.pathname = `/${database}`;
      const pool = createPostgresStorePool({ connectionString: url.toString(), maxConnections: 4 });
      return {
        driver: createPostgresStoreDriver(pool),
        openRegistryStore: (deps, options) => openPostgresRegistryStore({ ...deps, pool }, options),
        close: async () => {
          await pool.end();
          await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
          await admin.end();
        },
      };
    },
  },
];

const START_MS = 1_700_000_000_000;
const address = (n: number): Address => getAddress(`0x${n.toString(16).padStart(40, '0')}`);
const bytes32 = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`;
const signature = (n: number): Hex => `0x${n.toString(16).padStart(128, '0')}1b`;

let schemaCounter = 0;
const freshSchema = (prefix: string) => `${prefix}_${process.pid}_${++schemaCounter}`;

/**
 * The derivation as it was before operator_fact_counts (commit b4ff103), kept verbatim as the
 * reference: one operator at a time, counting every fact it ever had.
 */
async function deriveFromScratch(
  context: QueryContext<DB>,
  address: string,
  suspendAtMisses: number | undefined,
): Promise<{ operator: OperatorRecord; statusChanged: boolean } | undefined> {
  const key = address.toLowerCase();
  const row = await context.db
    .selectFrom('operators')
    .selectAll()
    .where('address', '=', key)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  const counts = await context.db
    .selectFrom('operator_facts')
    .select([
      sql<number>`count(*) filter (where kind = 'missed')::int`.as('misses'),
      sql<number>`count(*) filter (where kind = 'succeeded')::int`.as('successes'),
      sql<number>`coalesce(max(misses_cleared), 0)::int`.as('cleared'),
      sql<number>`count(*) filter (where kind = 'unsuspended')::int`.as('unsuspends'),
    ])
    .where('operator_address', '=', key)
    .executeTakeFirstOrThrow();
  const missing = Math.max(0, Number(counts.misses) - Number(counts.cleared));
  const record = toOperatorRecord(row);
  let status = record.status;
  let statusBeforeSuspension = record.statusBeforeSuspension;
  if (suspendAtMisses !== undefined) {
    if (missing >= suspendAtMisses && record.status !== 'suspended') {
      statusBeforeSuspension = record.status;
      status = 'suspended';
    } else if (
      missing < suspendAtMisses &&
      record.status === 'suspended' &&
      Number(counts.unsuspends) > 0
    ) {
      const latest = await context.db
        .selectFrom('epoch_states')
        .select(sql<number>`max(epoch_number)`.as('epoch'))
        .executeTakeFirst();
      const lifted = unsuspendOperator(record, Number(latest?.epoch ?? 0));
      status = lifted.operator.status;
      statusBeforeSuspension = null;
    }
  }
  const unchanged =
    status === record.status &&
    missing === record.missing &&
    Number(counts.successes) === record.successfulResponseCount;
  if (unchanged) return { operator: record, statusChanged: false };
  const updated = await context.db
    .updateTable('operators')
    .set({
      missing,
      successful_response_count: Number(counts.successes),
      status,
      status_before_suspension: statusBeforeSuspension,
      updated_at: nowAsDate(context.clock),
    })
    .where('address', '=', key)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { operator: toOperatorRecord(updated), statusChanged: status !== record.status };
}

/** `operatorFacts.merge` as it was, over the reference derivation. */
function referenceMerge(root: QueryContext<DB>, facts: readonly OperatorFact[], suspendAt: number) {
  return root.transaction(async (tx) => {
    const added = await insertOperatorFacts(tx, facts);
    const changed: OperatorRecord[] = [];
    if (added === 0) return { added, changed };
    const named = [...new Set(facts.map((fact) => fact.operator.toLowerCase()))].sort();
    for (const key of named) {
      const derived = await deriveFromScratch(tx, key, suspendAt);
      if (derived?.statusChanged) changed.push(derived.operator);
    }
    return { added, changed };
  });
}

const readOperators = (root: QueryContext<DB>) =>
  root.db.selectFrom('operators').selectAll().orderBy('address').execute();

/** What `operator_fact_counts` must hold: the facts counted from scratch. */
const countFactsFromScratch = (root: QueryContext<DB>) =>
  root.db
    .selectFrom('operator_facts')
    .select([
      'operator_address',
      sql<number>`count(*) filter (where kind = 'missed')::int`.as('misses'),
      sql<number>`count(*) filter (where kind = 'succeeded')::int`.as('successes'),
      sql<number>`count(*) filter (where kind = 'unsuspended')::int`.as('unsuspends'),
      sql<number>`coalesce(max(misses_cleared), 0)::int`.as('misses_cleared'),
    ])
    .groupBy('operator_address')
    .orderBy('operator_address')
    .execute();

const readFactCounts = (root: QueryContext<DB>) =>
  root.db
    .selectFrom('operator_fact_counts')
    .select(['operator_address', 'misses', 'successes', 'unsuspends', 'misses_cleared'])
    .orderBy('operator_address')
    .execute();

/** Stores operators 1…count as active since epoch 1; returns their numbers. */
async function storeActiveOperators(
  store: RegistryStore,
  count: number,
  extra: { weightWei?: bigint } = {},
): Promise<number[]> {
  const ids = Array.from({ length: count }, (_, index) => index + 1);
  for (const n of ids) {
    await store.operators.upsert({
      address: address(n),
      signingKey: address(0x1000 + n),
      registeredAtBlockNumber: 10n,
      registeredAtTimestampSec: 1_700_000_000n,
      activeEpoch: 1,
      status: 'active',
      ...extra,
    });
  }
  return ids;
}

async function clearTables(root: QueryContext<DB>): Promise<void> {
  for (const table of [
    'epoch_operators',
    'epoch_states',
    'operators',
    'operator_facts',
    'operator_fact_counts',
  ] as const) {
    await root.db.deleteFrom(table).execute();
  }
}

/** Runs `work`, returning its result or the error it threw, as text (to compare both sides). */
async function outcome<T>(work: () => Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await work() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

// --- scenarios -------------------------------------------------------------------------------

const SUSPEND_AT = 3;
const OPERATORS = [1, 2, 3, 4] as const;
const operatorNumber = fc.constantFrom(...OPERATORS);
const unsuspended = fc.constantFrom(...UNSUSPENDED_STATUSES);

const factArbitrary: fc.Arbitrary<OperatorFact> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ kind: fc.constantFrom('missed', 'succeeded'), n: operatorNumber, task: fc.nat(7) })
      .map(({ kind, n, task }) => ({ kind, operator: address(n), taskId: bytes32(task + 1) })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ n: operatorNumber, cleared: fc.nat(8) }).map(({ n, cleared }) => ({
      kind: 'unsuspended' as const,
      operator: address(n),
      missesCleared: cleared,
    })),
  },
);

type Step =
  | { type: 'merge'; facts: OperatorFact[] }
  | { type: 'complete'; task: number; signers: number[] }
  | { type: 'upsert' }
  | { type: 'setStatus'; n: number; status: OperatorStatus }
  | { type: 'setMissing'; n: number; missing: number }
  | { type: 'bumpSuccess'; n: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('merge' as const),
      facts: fc.array(factArbitrary, { minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('complete' as const),
      task: fc.nat(7),
      signers: fc.subarray([...OPERATORS], { minLength: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('upsert' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('setStatus' as const),
      n: operatorNumber,
      status: fc.constantFrom(...OPERATOR_STATUSES),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('setMissing' as const),
      n: operatorNumber,
      missing: fc.nat(5),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('bumpSuccess' as const), n: operatorNumber }),
  },
);

const registrationArbitrary = (n: number): fc.Arbitrary<OperatorRegistration> =>
  fc
    .record({
      status: fc.constantFrom(...OPERATOR_STATUSES),
      before: fc.option(unsuspended, { nil: null }),
      activeEpoch: fc.nat(3),
      exitEpoch: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    })
    .map(({ status, before, activeEpoch, exitEpoch }) => ({
      address: address(n),
      signingKey: address(0x1000 + n),
      registeredAtBlockNumber: 10n,
      registeredAtTimestampSec: 1_700_000_000n,
      activeEpoch,
      exitEpoch,
      status,
      statusBeforeSuspension: status === 'suspended' ? before : null,
    }));

const scenarioArbitrary = fc.record({
  latestEpoch: fc.nat(3),
  registrations: fc.tuple(...OPERATORS.map(registrationArbitrary)),
  steps: fc.array(stepArbitrary, { minLength: 1, maxLength: 10 }),
});

/** Stores operator 4 the way `operators.upsert` did before, over the reference derivation. */
async function referenceUpsert(root: QueryContext<DB>, registration: OperatorRegistration) {
  const now = nowAsDate(root.clock);
  await root.db
    .insertInto('operators')
    .values({
      address: registration.address.toLowerCase(),
      signing_key: registration.signingKey.toLowerCase(),
      registered_at_block_number: registration.registeredAtBlockNumber,
      registered_at_timestamp_sec: registration.registeredAtTimestampSec,
      active_epoch: registration.activeEpoch,
      exit_epoch: registration.exitEpoch ?? null,
      status: registration.status,
      status_before_suspension: registration.statusBeforeSuspension ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await deriveFromScratch(root, registration.address, undefined);
}

// --- epoch advance scenarios -----------------------------------------------------------------

const epochUpdateArbitrary = (n: number): fc.Arbitrary<OperatorEpochUpdate> =>
  fc
    .record({
      status: fc.option(fc.constantFrom(...OPERATOR_STATUSES), { nil: undefined }),
      expectedStatus: fc.option(fc.constantFrom(...OPERATOR_STATUSES), { nil: undefined }),
      weightWei: fc.option(fc.constantFrom(0n, 7n, 2n ** 256n - 1n), { nil: undefined }),
      signingKey: fc.option(fc.constant(address(0x2000 + n)), { nil: undefined }),
    })
    .filter(
      (u) => u.status !== undefined || u.weightWei !== undefined || u.signingKey !== undefined,
    )
    .map((u) => ({
      address: address(n),
      ...Object.fromEntries(Object.entries(u).filter(([, value]) => value !== undefined)),
    }));

/** applyEpochAdvance's operator writes as they were: one `updateOperator` per update, in order. */
async function referenceOperatorUpdates(
  root: QueryContext<DB>,
  updates: readonly OperatorEpochUpdate[],
) {
  return root.transaction(async (tx) => {
    for (const update of updates) {
      await updateOperator(
        tx,
        'applyEpochAdvance',
        update.address.toLowerCase(),
        {
          ...(update.status === undefined ? {} : { status: update.status }),
          ...(update.weightWei === undefined ? {} : { weight: update.weightWei }),
          ...(update.signingKey === undefined
            ? {}
            : { signing_key: update.signingKey.toLowerCase() }),
        },
        update.expectedStatus,
      );
    }
  });
}

// --- the suites ------------------------------------------------------------------------------

for (const { name, open } of ADAPTERS) {
  describe(`operator counters and epoch updates: ${name}`, () => {
    let adapter: Adapter | undefined;
    let migrations: Migration[] = [];
    const databases: StoreDatabase<DB>[] = [];
    const stores: RegistryStore[] = [];
    let nowMs = START_MS;
    const clock = { now: () => nowMs };

    beforeAll(async () => {
      adapter = await open();
      migrations = await readMigrationFiles('registry');
    });
    afterAll(async () => {
      for (const store of stores) await store.close();
      for (const database of databases) await database.kysely.destroy();
      await adapter?.close();
    });

    const openDatabase = async (schema = freshSchema('counters'), upTo = migrations.length) => {
      if (!adapter) throw new Error(`${name} did not start`);
      const database = await openStoreDatabase<DB>(
        'registry',
        adapter.driver,
        migrations.slice(0, upTo),
        { schema },
        { clock },
      );
      databases.push(database);
      return database;
    };
    const openStore = async (onQuery?: (event: StoreQueryEvent) => void) => {
      if (!adapter) throw new Error(`${name} did not start`);
      const store = await adapter.openRegistryStore(
        { clock },
        { schema: freshSchema('counters'), ...(onQuery ? { onQuery } : {}) },
      );
      stores.push(store);
      return store;
    };

    test('property: deriving from fact totals, a set at a time, gives the rows deriving each operator from all its facts gave', async () => {
      const subject = (await openDatabase()).root;
      const reference = (await openDatabase()).root;
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary, async ({ latestEpoch, registrations, steps }) => {
          await clearTables(subject);
          await clearTables(reference);
          const sides = [subject, reference];
          for (const root of sides) {
            const operators = createOperatorsRepository(root);
            for (const registration of registrations.slice(0, 3)) {
              await operators.upsert(registration);
            }
            for (let epoch = 1; epoch <= latestEpoch; epoch += 1) {
              await applyEpochAdvance(root, {
                epochState: {
                  epoch,
                  startBlock: BigInt(epoch * 12),
                  minimumWeightWei: 0n,
                  totalWeightWei: 1n,
                  thresholdWeightWei: 1n,
                },
                operatorUpdates: [],
                epochOperators: [],
              });
            }
          }
          let fourStored = false;
          for (const step of steps) {
            nowMs += 1_000;
            const stored = (n: number) => n !== 4 || fourStored;
            let results: [unknown, unknown];
            if (step.type === 'merge') {
              results = [
                await outcome(() =>
                  createOperatorFactsRepository(subject).merge(step.facts, {
                    suspendAtMisses: SUSPEND_AT,
                  }),
                ),
                await outcome(() => referenceMerge(reference, step.facts, SUSPEND_AT)),
              ];
            } else if (step.type === 'complete') {
              const facts = step.signers.map((n) => ({
                kind: 'succeeded' as const,
                operator: address(n),
                taskId: bytes32(step.task + 1),
              }));
              results = [
                await outcome(() =>
                  subject.transaction(async (tx) => {
                    await insertOperatorFacts(tx, facts);
                    const derived = await deriveOperatorCounters(
                      tx,
                      facts.map((fact) => fact.operator),
                      undefined,
                    );
                    return [...derived.values()].map((d) => d.operator);
                  }),
                ),
                await outcome(() =>
                  reference.transaction(async (tx) => {
                    await insertOperatorFacts(tx, facts);
                    const derived: OperatorRecord[] = [];
                    for (const fact of facts) {
                      const one = await deriveFromScratch(tx, fact.operator, undefined);
                      if (one) derived.push(one.operator);
                    }
                    return derived;
                  }),
                ),
              ];
            } else if (step.type === 'upsert') {
              if (fourStored) continue;
              fourStored = true;
              const four = registrations[3] as OperatorRegistration;
              results = [
                await outcome(() => createOperatorsRepository(subject).upsert(four)),
                await outcome(async () => {
                  await referenceUpsert(reference, four);
                  return (await createOperatorsRepository(reference).get(four.address)) ?? null;
                }),
              ];
            } else {
              if (!stored(step.n)) continue;
              const edit = (root: QueryContext<DB>): Promise<unknown> => {
                const operators = createOperatorsRepository(root);
                if (step.type === 'setStatus') {
                  return operators.updateStatus(address(step.n), step.status);
                }
                if (step.type === 'setMissing') {
                  return operators.update(address(step.n), { missing: step.missing });
                }
                return operators.recordSuccessfulResponses([address(step.n)]);
              };
              results = [await outcome(() => edit(subject)), await outcome(() => edit(reference))];
            }
            expect(results[0]).toEqual(results[1]);
            expect(await readOperators(subject)).toEqual(await readOperators(reference));
          }
          expect(await readFactCounts(subject)).toEqual(await countFactsFromScratch(subject));
        }),
        { numRuns: 40 },
      );
    }, 120_000);

    test('behavior: completing a task with 64 signers counts each once, in as many statements as with 8, and writes its rows with the same statements', async () => {
      let statements = 0;
      const inserts = new Set<string>();
      const store = await openStore((event) => {
        statements += 1;
        if (/^insert/i.test(event.sql)) inserts.add(event.sql);
      });
      const ids = await storeActiveOperators(store, 64, { weightWei: 1n });
      await store.applyEpochAdvance({
        epochState: {
          epoch: 1,
          startBlock: 12n,
          minimumWeightWei: 1n,
          totalWeightWei: 64n,
          thresholdWeightWei: 8n,
        },
        operatorUpdates: [],
        epochOperators: ids.map((n) => ({
          operator: address(n),
          weightWei: 1n,
          signingKey: address(0x1000 + n),
        })),
      });
      // History: operators 1–32 have 20 earlier successes each; task 2's success of operators
      // 1–4 already arrived from another registry (it must not count twice).
      const history = ids.slice(0, 32).flatMap((n) =>
        Array.from({ length: 20 }, (_, task) => ({
          kind: 'succeeded' as const,
          operator: address(n),
          taskId: bytes32(1_000 + task),
        })),
      );
      await store.operatorFacts.merge(history.slice(0, 640), { suspendAtMisses: 5 });
      await store.operatorFacts.merge(
        [1, 2, 3, 4].map((n) => ({
          kind: 'succeeded' as const,
          operator: address(n),
          taskId: bytes32(2),
        })),
        { suspendAtMisses: 5 },
      );
      const complete = async (task: number, signers: readonly number[]) => {
        inserts.clear();
        await store.tasks.create({
          taskId: bytes32(task),
          targetAddress: address(0xbeef),
          chainId: 31337,
          blockNumber: 100n,
          timestampSec: 1_700_000_000n,
          epoch: 1,
          key: 1n,
          value: 1n,
          expiresAtMs: START_MS + 86_400_000,
        });
        await store.operatorResponses.recordMany(
          ids.map((n) => ({
            taskId: bytes32(task),
            operatorAddress: address(n),
            epoch: 1,
            submittedAtMs: START_MS,
            outcome: 'signed' as const,
            signature: signature(n),
          })),
        );
        const before = statements;
        const result = await store.completeTask({
          taskId: bytes32(task),
          signers: signers.map(address),
          signatureData: '0xabcdef',
          respondedAtMs: START_MS + 1,
        });
        expect(result.completed).toBe(true);
        return { statements: statements - before, inserts: [...inserts].sort() };
      };
      const withEight = await complete(1, ids.slice(0, 8));
      const withAll = await complete(2, ids);
      expect(withAll.statements).toBe(withEight.statements);
      // Answers, proof signers, facts and fact totals: one SQL text (one prepared statement)
      // whatever the number of rows.
      expect(withAll.inserts).toEqual(withEight.inserts);
      expect(withAll.inserts).toHaveLength(6);
      const counts = (await store.operators.list()).map((op) => op.successfulResponseCount);
      // 1–4: 20 earlier + task 1 + task 2 (once); 5–8: 20 + 2; 9–32: 20 + 1; 33–64: 1.
      expect(counts).toEqual(ids.map((n) => (n <= 8 ? 22 : n <= 32 ? 21 : 1)));
    });

    test('property: an epoch advance writes its operator updates in one statement, with the rows and refusals one update per operator gave', async () => {
      const subject = (await openDatabase()).root;
      const reference = (await openDatabase()).root;
      const updatesArbitrary = fc
        .subarray([...OPERATORS, 5], { minLength: 1 })
        .chain((ns) => fc.tuple(...ns.map(epochUpdateArbitrary)))
        .chain((updates) => fc.shuffledSubarray(updates, { minLength: updates.length }));
      await fc.assert(
        fc.asyncProperty(
          fc.tuple(...OPERATORS.map(registrationArbitrary)),
          updatesArbitrary,
          async (registrations, updates) => {
            await clearTables(subject);
            await clearTables(reference);
            for (const root of [subject, reference]) {
              const operators = createOperatorsRepository(root);
              for (const registration of registrations) await operators.upsert(registration);
            }
            nowMs += 1_000;
            const epochState = {
              epoch: 1,
              startBlock: 12n,
              minimumWeightWei: 0n,
              totalWeightWei: 1n,
              thresholdWeightWei: 1n,
            };
            const got = await outcome(() =>
              applyEpochAdvance(subject, {
                epochState,
                operatorUpdates: updates,
                epochOperators: [],
              }),
            );
            const want = await outcome(() => referenceOperatorUpdates(reference, updates));
            expect(got.error).toEqual(want.error);
            expect(await readOperators(subject)).toEqual(await readOperators(reference));
          },
        ),
        { numRuns: 60 },
      );
    }, 120_000);

    test('behavior: applyEpochAdvance with 64 operator updates runs as many statements as with 8', async () => {
      let statements = 0;
      const store = await openStore(() => {
        statements += 1;
      });
      const ids = await storeActiveOperators(store, 64);
      const advance = async (epoch: number, count: number) => {
        const before = statements;
        await store.applyEpochAdvance({
          epochState: {
            epoch,
            startBlock: BigInt(epoch * 12),
            minimumWeightWei: 0n,
            totalWeightWei: 64n,
            thresholdWeightWei: 1n,
          },
          operatorUpdates: ids.slice(0, count).map((n) => ({
            address: address(n),
            expectedStatus: 'active' as const,
            weightWei: BigInt(epoch),
            signingKey: address(0x3000 + n),
          })),
          epochOperators: [],
        });
        return statements - before;
      };
      expect(await advance(1, 8)).toBe(await advance(2, 64));
      expect((await store.operators.get(address(64)))?.weightWei).toBe(2n);
    });

    test('behavior: a guard miss refuses the whole advance, naming the first refused update in input order', async () => {
      const store = await openStore();
      for (const n of [1, 2, 3]) {
        await store.operators.upsert({
          address: address(n),
          signingKey: address(0x1000 + n),
          registeredAtBlockNumber: 10n,
          registeredAtTimestampSec: 1_700_000_000n,
          activeEpoch: 1,
          status: n === 1 ? 'active' : 'waitingJoin',
        });
      }
      const epochState = {
        epoch: 1,
        startBlock: 12n,
        minimumWeightWei: 0n,
        totalWeightWei: 1n,
        thresholdWeightWei: 1n,
      };
      const refused = store.applyEpochAdvance({
        epochState,
        operatorUpdates: [
          { address: address(1), weightWei: 5n, expectedStatus: 'active' },
          { address: address(3), status: 'active', expectedStatus: 'waitingActive' },
          { address: address(2), status: 'active', expectedStatus: 'waitingActive' },
        ],
        epochOperators: [],
      });
      await expect(refused).rejects.toBeInstanceOf(StoreConflictError);
      await expect(refused).rejects.toMatchObject({
        reason: 'STATUS_PRECONDITION',
        message: expect.stringContaining(
          `operator ${address(3).toLowerCase()} is waitingJoin, not waitingActive`,
        ),
      });
      expect((await store.operators.get(address(1)))?.weightWei).toBe(0n);
      expect(await store.epochStates.getLatest()).toBeUndefined();
      await expect(
        store.applyEpochAdvance({
          epochState,
          operatorUpdates: [{ address: address(9), weightWei: 1n }],
          epochOperators: [],
        }),
      ).rejects.toBeInstanceOf(StoreNotFoundError);
    });

    test('behavior: migration 0004 backfills the fact totals of facts stored before it', async () => {
      const schema = freshSchema('backfill');
      const old = await openDatabase(schema, 3);
      const facts: OperatorFact[] = [
        { kind: 'missed', operator: address(1), taskId: bytes32(1) },
        { kind: 'missed', operator: address(1), taskId: bytes32(2) },
        { kind: 'succeeded', operator: address(1), taskId: bytes32(3) },
        { kind: 'unsuspended', operator: address(1), missesCleared: 1 },
        { kind: 'unsuspended', operator: address(1), missesCleared: 2 },
        { kind: 'succeeded', operator: address(2), taskId: bytes32(3) },
      ];
      await old.root.db
        .insertInto('operator_facts')
        .values(
          facts.map((fact) => ({
            kind: fact.kind,
            operator_address: fact.operator.toLowerCase(),
            task_id: fact.kind === 'unsuspended' ? null : fact.taskId,
            misses_cleared: fact.kind === 'unsuspended' ? fact.missesCleared : null,
            recorded_at: new Date(START_MS),
          })),
        )
        .execute();
      const migrated = (await openDatabase(schema)).root;
      expect(await readFactCounts(migrated)).toEqual([
        {
          operator_address: address(1).toLowerCase(),
          misses: 2,
          successes: 1,
          unsuspends: 2,
          misses_cleared: 2,
        },
        {
          operator_address: address(2).toLowerCase(),
          misses: 0,
          successes: 1,
          unsuspends: 0,
          misses_cleared: 0,
        },
      ]);
      await createOperatorFactsRepository(migrated).merge(
        [{ kind: 'missed', operator: address(1), taskId: bytes32(4) }],
        { suspendAtMisses: 5 },
      );
      const stored = await createOperatorsRepository(migrated).upsert({
        address: address(1),
        signingKey: address(0x1001),
        registeredAtBlockNumber: 10n,
        registeredAtTimestampSec: 1_700_000_000n,
        activeEpoch: 1,
        status: 'active',
      });
      expect(stored).toMatchObject({ missing: 1, successfulResponseCount: 1 });
    });
  });
}
