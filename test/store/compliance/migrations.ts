import { describe, expect, test } from 'vitest';
import { readMigrationFiles } from '../../../src/store/adapters/read-migration-files.ts';
import { StoreInputError, StoreMigrationError } from '../../../src/store/errors.ts';
import type { Migration } from '../../../src/store/migrate.ts';
import { openRegistryStore } from '../../../src/store/registry/open-registry-store.ts';
import type { ComplianceContext } from '../compliance.ts';
import { createManualClock, freshSchema, registration } from '../harness.ts';

/** The registry migrations this build ships: 0001_init … 0005_hex_domain_checks. */
const REGISTRY_VERSIONS = [1, 2, 3, 4, 5];

export function describeMigrations(context: ComplianceContext): void {
  /** Opens a registry store with a custom migration list, closing it right away. */
  const openWith = async (schema: string, migrations: readonly Migration[]) => {
    const store = await openRegistryStore(
      { clock: createManualClock(), driver: context.harness().driver, migrations },
      { schema },
    );
    await store.close();
    return store.migrations;
  };

  const appliedVersions = async (schema: string) =>
    (
      await context
        .harness()
        .rawQuery<{ version: number }>(
          `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
        )
    ).map((row) => row.version);

  describe('migrations', () => {
    test('behavior: opening creates the schema and applies every migration; reopening is a no-op', async () => {
      const schema = freshSchema('migrate');
      const first = await context.openRegistry({ schema });
      expect(first.store.migrations).toEqual({ applied: REGISTRY_VERSIONS, alreadyApplied: [] });
      await first.store.operators.upsert(registration(1));

      const again = await context.openRegistry({ schema });
      expect(again.store.migrations).toEqual({ applied: [], alreadyApplied: REGISTRY_VERSIONS });
      expect(await again.store.operators.list()).toHaveLength(1);
      expect(await appliedVersions(schema)).toEqual(REGISTRY_VERSIONS);
    });

    test('behavior: stores opened concurrently on a new schema migrate it exactly once', async () => {
      const schema = freshSchema('migrate');
      const stores = await Promise.all([1, 2, 3].map(() => context.openRegistry({ schema })));
      // Each migration is applied by whichever opener takes its lock first: once in total.
      const applied = stores.flatMap(({ store }) => store.migrations.applied).sort((a, b) => a - b);
      expect(applied).toEqual(REGISTRY_VERSIONS);
      expect(await appliedVersions(schema)).toEqual(REGISTRY_VERSIONS);
    });

    test('behavior: a schema holding the other store kind is refused', async () => {
      const schema = freshSchema('migrate');
      await context.openRegistry({ schema });
      const opening = context.openOperator({ schema });
      await expect(opening).rejects.toBeInstanceOf(StoreMigrationError);
      await expect(opening).rejects.toThrow(/holds registry tables, not operator tables/);
    });

    test('behavior: an applied migration whose file changed is refused, not re-run', async () => {
      const schema = freshSchema('migrate');
      const migrations = await readMigrationFiles('registry');
      await openWith(schema, migrations);
      const edited = migrations.map((migration) => ({ ...migration, checksum: 'edited' }));
      await expect(openWith(schema, edited)).rejects.toThrow(
        /0001_init was applied with different contents/,
      );
    });

    test('behavior: a schema migrated by a newer build is refused', async () => {
      const schema = freshSchema('migrate');
      const migrations = await readMigrationFiles('registry');
      const next = migrations.length + 1;
      const newer: Migration = {
        version: next,
        name: 'newer',
        sql: 'SELECT 1;',
        checksum: 'newer',
      };
      expect(await openWith(schema, [...migrations, newer])).toEqual({
        applied: [...REGISTRY_VERSIONS, next],
        alreadyApplied: [],
      });
      await expect(openWith(schema, migrations)).rejects.toThrow(
        new RegExp(`has migration ${next} \\(newer\\) that this build does not know`),
      );
    });

    test('behavior: a failing migration is rolled back entirely and not recorded', async () => {
      const schema = freshSchema('migrate');
      const migrations = await readMigrationFiles('registry');
      const failing: Migration = {
        version: migrations.length + 1,
        name: 'failing',
        sql: 'CREATE TABLE half_done (id INTEGER); SELECT 1 / 0;',
        checksum: 'failing',
      };
      const opening = openWith(schema, [...migrations, failing]);
      await expect(opening).rejects.toBeInstanceOf(StoreMigrationError);
      await expect(opening).rejects.toThrow(
        new RegExp(
          `migration ${String(migrations.length + 1).padStart(4, '0')}_failing failed: division by zero`,
        ),
      );
      expect(await appliedVersions(schema)).toEqual(REGISTRY_VERSIONS);
      const tables = await context
        .harness()
        .rawQuery(
          `SELECT 1 FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = 'half_done'`,
        );
      expect(tables).toEqual([]);
    });

    test('behavior: migration versions must run 1, 2, 3 without gaps', async () => {
      const migrations = await readMigrationFiles('registry');
      const version = migrations.length + 2;
      const gap: Migration = { version, name: 'gap', sql: 'SELECT 1;', checksum: 'gap' };
      await expect(openWith(freshSchema('migrate'), [...migrations, gap])).rejects.toThrow(
        `found ${String(version).padStart(4, '0')}_gap at position ${migrations.length + 1}`,
      );
    });

    test.each(['Node-1', 'public', 'pg_catalog', 'a;drop schema public', ''])(
      'behavior: schema name %j is refused before any query',
      async (schema) => {
        const opening = context.openRegistry({ schema });
        await expect(opening).rejects.toBeInstanceOf(StoreInputError);
        await expect(opening).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'schema' });
      },
    );
  });
}
