/**
 * Lints proto/ with buf and generates TypeScript into src/generated/proto/ with the ts-proto
 * plugin installed in node_modules (buf.gen.yaml holds the plugin options). Nothing is downloaded:
 * buf ships inside the @bufbuild/buf npm package.
 *
 *   pnpm proto:gen      lint, then write src/generated/proto/
 *   pnpm proto:check    lint, generate into a temp dir, fail when the committed files differ
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const binDir = join(root, 'node_modules', '.bin');
const buf = join(binDir, 'buf');
/** Where buf.gen.yaml writes, relative to the output base. */
const generatedDir = join('src', 'generated', 'proto');

function runBuf(args: string[]): void {
  if (!existsSync(buf)) throw new Error(`${buf} is missing: run \`pnpm install\``);
  const { PATH: inheritedPath = '', ...env } = process.env;
  execFileSync(buf, args, {
    cwd: root,
    stdio: 'inherit',
    // The plugin shim runs with the Node in node_modules/.bin (Node 24), like every script here.
    env: { ...env, PATH: `${binDir}:${inheritedPath}` },
  });
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** Files that exist on one side only or differ, relative to the generated directory. */
function differences(expectedDir: string, actualDir: string): string[] {
  const expected = listFiles(expectedDir);
  const actual = listFiles(actualDir);
  const all = [...new Set([...expected, ...actual])].sort();
  return all.filter((file) => {
    const expectedPath = join(expectedDir, file);
    const actualPath = join(actualDir, file);
    if (!existsSync(expectedPath)) return true;
    if (!existsSync(actualPath)) return true;
    return !readFileSync(expectedPath).equals(readFileSync(actualPath));
  });
}

function main(): void {
  const check = process.argv.includes('--check');
  runBuf(['lint']);
  if (!check) {
    runBuf(['generate']);
    console.log(`wrote ${listFiles(join(root, generatedDir)).length} file(s) to ${generatedDir}`);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'spotted-proto-'));
  try {
    runBuf(['generate', '--output', scratch]);
    const stale = differences(join(scratch, generatedDir), join(root, generatedDir));
    if (stale.length > 0) {
      console.error(
        `${generatedDir} is out of date with proto/ (${stale.join(', ')}): run \`pnpm proto:gen\``,
      );
      process.exitCode = 1;
      return;
    }
    console.log(`${generatedDir} is up to date`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main();
