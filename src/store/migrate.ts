import type { Clock } from '../ports/clock.ts';
import { StoreError, StoreMigrationError, StoreUnavailableError } from './errors.ts';
import { mapDatabaseError } from './map-database-error.ts';
import { quoteIdentifier } from './schema-name.ts';

/** The two table sets: a registry node's and an operator node's (SPEC §4). */
export type StoreKind = 'registry' | 'operator';

/** One `NNNN_name.sql` file from `src/store/migrations/<kind>/`. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** sha256 of `sql`: an applied migration whose file later changed is refused, not re-run. */
  checksum: string;
}

/** One connection inside one transaction, as the migrator needs it. */
export interface MigrationSession {
  /** Runs a script of one or more statements without parameters. */
  execScript(script: string): Promise<void>;
  query<Row>(sql: string, params: readonly unknown[]): Promise<Row[]>;
}

/**
 * Implemented by each adapter: Kysely cannot run multi-statement scripts on PGlite (it always
 * uses the extended protocol), so migrations go through this narrow interface instead.
 */
export interface MigrationRunner {
  /** Runs `work` in one transaction; rolls back when it throws. */
  transaction<T>(work: (session: MigrationSession) => Promise<T>): Promise<T>;
}

export interface MigrateOptions {
  kind: StoreKind;
  /** Already checked with checkSchemaName. */
  schema: string;
  migrations: readonly Migration[];
}

export interface MigrationReport {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** Versions that were already in the schema. */
  alreadyApplied: number[];
}

interface AppliedMigrationRow {
  version: number;
  name: string;
  kind: string;
  checksum: string;
}

/**
 * Brings `schema` up to date: creates it if needed, then applies each missing migration in its
 * own transaction and records it in `<schema>.schema_migrations`. Re-running is a no-op.
 * Concurrent migrators of the same schema (two processes on one server) serialise on an
 * advisory lock; the schema is selected with SET LOCAL, so other stores sharing the database or
 * the PGlite instance never see a changed search_path.
 */
export async function migrate(
  runner: MigrationRunner,
  options: MigrateOptions,
  deps: { clock: Pick<Clock, 'now'> },
): Promise<MigrationReport> {
  const { kind, schema, migrations } = options;
  checkMigrationOrder(schema, migrations);
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  const known = new Set(migrations.map((migration) => migration.version));

  for (const migration of migrations) {
    try {
      const applied = await runner.transaction(async (session) => {
        await session.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `spotted:migrate:${schema}`,
        ]);
        await session.execScript(
          `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};
           SET LOCAL search_path TO ${quoteIdentifier(schema)};
           CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             kind TEXT NOT NULL,
             checksum TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL
           );`,
        );
        const rows = await session.query<AppliedMigrationRow>(
          'SELECT version, name, kind, checksum FROM schema_migrations ORDER BY version',
          [],
        );
        checkAppliedRows(schema, kind, rows, known);
        const existing = rows.find((row) => row.version === migration.version);
        if (existing) {
          if (existing.checksum !== migration.checksum) {
            throw new StoreMigrationError(
              schema,
              `migration ${label(migration)} was applied with different contents (checksum ${existing.checksum}, file now ${migration.checksum}); never edit an applied migration, add a new one`,
            );
          }
          return false;
        }
        await session.execScript(migration.sql);
        await session.query(
          'INSERT INTO schema_migrations (version, name, kind, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)',
          [migration.version, migration.name, kind, migration.checksum, new Date(deps.clock.now())],
        );
        return true;
      });
      (applied ? report.applied : report.alreadyApplied).push(migration.version);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const mapped = mapDatabaseError(`migrate ${schema}`, error);
      if (mapped instanceof StoreUnavailableError) throw mapped;
      throw new StoreMigrationError(
        schema,
        `migration ${label(migration)} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  return report;
}

function checkMigrationOrder(schema: string, migrations: readonly Migration[]): void {
  if (migrations.length === 0) throw new StoreMigrationError(schema, 'no migrations given');
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new StoreMigrationError(
        schema,
        `migration versions must run 1, 2, 3, … without gaps; found ${label(migration)} at position ${index + 1}`,
      );
    }
  });
}

function checkAppliedRows(
  schema: string,
  kind: StoreKind,
  rows: readonly AppliedMigrationRow[],
  known: ReadonlySet<number>,
): void {
  for (const row of rows) {
    if (row.kind !== kind) {
      throw new StoreMigrationError(
        schema,
        `schema ${schema} holds ${row.kind} tables, not ${kind} tables; open it with the matching store or pick another schema`,
      );
    }
    if (!known.has(row.version)) {
      throw new StoreMigrationError(
        schema,
        `schema ${schema} has migration ${row.version} (${row.name}) that this build does not know; it was migrated by a newer version`,
      );
    }
  }
}

function label(migration: Migration): string {
  return `${String(migration.version).padStart(4, '0')}_${migration.name}`;
}
