import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { StoreMigrationError } from '../errors.ts';
import type { Migration, StoreKind } from '../migrate.ts';

/** `0001_init.sql`: a four-digit version, a snake_case name. */
const MIGRATION_FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `src/store/migrations/<kind>/*.sql` in version order. This is the store's only file I/O,
 * kept in an adapters folder so the rest of src/store stays free of it; both database adapters
 * and `scripts/gen-db-types.ts` use it, so the runtime and the generated types read the same
 * files.
 */
export async function readMigrationFiles(kind: StoreKind): Promise<Migration[]> {
  const directory = migrationDirectory(kind);
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const fileName of names) {
    const match = MIGRATION_FILE_PATTERN.exec(fileName);
    if (!match?.[1] || !match[2]) {
      throw new StoreMigrationError(
        kind,
        `${fileName} in ${directory.pathname} is not named NNNN_snake_case_name.sql`,
      );
    }
    const sql = await readFile(new URL(fileName, directory), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

export function migrationDirectory(kind: StoreKind): URL {
  return new URL(`../migrations/${kind}/`, import.meta.url);
}
