import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const biome = join(root, 'node_modules', '.bin', 'biome');
let workdir: string;

const offending = [
  "import { readFileSync } from 'node:fs';",
  'export const now = Date.now();',
  'export const roll = Math.random();',
  'export const today = new Date();',
  'setTimeout(() => {}, 1);',
  'export const env = process.env;',
  'export const read = readFileSync;',
  '',
].join('\n');

/** Lints `files` (path → source) under a copy of the repo's Biome config; returns diagnostics by file. */
function lint(files: Record<string, string>): Map<string, string[]> {
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(workdir, path)), { recursive: true });
    writeFileSync(join(workdir, path), source);
  }
  let output: string;
  try {
    output = execFileSync(
      biome,
      ['lint', '--reporter=json', '--max-diagnostics=200', ...Object.keys(files)],
      {
        cwd: workdir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? '');
  }
  const json = output.split('\n').find((line) => line.startsWith('{'));
  if (!json) throw new Error(`biome printed no JSON report:\n${output}`);
  const report = JSON.parse(json) as {
    diagnostics: { location: { path: string }; message: string; category?: string }[];
  };
  const byFile = new Map<string, string[]>();
  for (const d of report.diagnostics) {
    const list = byFile.get(d.location.path) ?? [];
    list.push(`${d.category ?? ''} ${d.message}`);
    byFile.set(d.location.path, list);
  }
  return byFile;
}

beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), 'spotted-lint-'));
  const { $schema: _schema, ...config } = JSON.parse(
    readFileSync(join(root, 'biome.json'), 'utf8'),
  ) as Record<string, unknown>;
  writeFileSync(
    join(workdir, 'biome.json'),
    JSON.stringify({ ...config, vcs: { enabled: false } }),
  );
  cpSync(join(root, 'lint'), join(workdir, 'lint'), { recursive: true });
});

afterAll(() => {
  rmSync(workdir, { recursive: true, force: true });
});

describe('determinism lint rule', () => {
  test('behavior: node code may not read wall time, randomness, timers, env or do raw I/O', () => {
    const diagnostics =
      lint({ 'src/core/offending.ts': offending }).get('src/core/offending.ts') ?? [];
    const text = diagnostics.join('\n');
    expect(text).toContain('Date.now() in node code');
    expect(text).toContain('Math.random() in node code');
    expect(text).toContain('new Date() in node code');
    expect(text).toMatch(/noRestrictedGlobals[\s\S]*setTimeout/);
    expect(text).toMatch(/noRestrictedGlobals[\s\S]*process/);
    expect(text).toContain('noRestrictedImports');
  });

  test('behavior: adapters and tests are exempt', () => {
    const result = lint({
      'src/adapters/clock/allowed.ts': offending,
      'src/core/allowed.test.ts': offending,
    });
    const relevant = (file: string) =>
      (result.get(file) ?? []).filter((d) => /node code|noRestricted/.test(d));
    expect(relevant('src/adapters/clock/allowed.ts')).toEqual([]);
    expect(relevant('src/core/allowed.test.ts')).toEqual([]);
  });
});
