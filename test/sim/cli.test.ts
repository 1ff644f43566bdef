import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const fixture = (name: string) => join('test', 'sim', 'fixtures', name);

function sim(...args: string[]) {
  const run = spawnSync(process.execPath, ['sim/cli.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

describe('pnpm sim (CLI)', () => {
  test('behavior: a failing assertion exits non-zero and prints the replay command', () => {
    const { code, out } = sim(
      fixture('broken-assertion.yaml'),
      '--seed',
      '3',
      '--quiet',
      '--out',
      join('.sim', 'cli-test'),
    );
    expect(code).toBe(1);
    expect(out).toContain('✗ epoch >= 99');
    expect(out).toContain(`Replay with:\n  pnpm sim ${fixture('broken-assertion.yaml')} --seed 3`);
  }, 120_000);

  test('behavior: --network libp2p runs the nodes on libp2p, says so, and replays with it', () => {
    const { code, out } = sim(
      fixture('broken-assertion.yaml'),
      '--seed',
      '3',
      '--network',
      'libp2p',
      '--quiet',
      '--out',
      join('.sim', 'cli-test-libp2p'),
    );
    expect(code).toBe(1);
    expect(out).toContain('network libp2p (memory transport)');
    expect(out).toContain('✓ epoch >= 1');
    expect(out).toContain('✗ epoch >= 99');
    expect(out).toContain(
      `Replay with:\n  pnpm sim ${fixture('broken-assertion.yaml')} --seed 3 --network libp2p`,
    );
  }, 120_000);

  test('behavior: --check-determinism is refused on libp2p, with the reason', () => {
    const { code, out } = sim(
      fixture('broken-assertion.yaml'),
      '--network',
      'libp2p',
      '--check-determinism',
    );
    expect(code).toBe(2);
    expect(out).toContain('--check-determinism needs --network sim');
    expect(sim(fixture('broken-assertion.yaml'), '--network', 'tcp').out).toContain(
      '--network must be sim or libp2p, got tcp',
    );
  });

  test('behavior: a malformed scenario names the file, line and field', () => {
    const { code, out } = sim(fixture('malformed.yaml'));
    expect(code).toBe(2);
    expect(out).toMatch(/malformed\.yaml:9: timeline\[0\]\.request\.evry: unknown key/);
  });

  test('behavior: bad options are refused with the usage', () => {
    expect(sim(fixture('broken-assertion.yaml'), '--seed', 'x').out).toContain(
      '--seed expects a whole number',
    );
    expect(sim().code).toBe(2);
    expect(sim('scenarios/nope.yaml').out).toMatch(/nope\.yaml/);
    expect(sim(fixture('broken-assertion.yaml'), '--registry-store', 'sqlite').out).toContain(
      '--registry-store must be memory or pglite, got sqlite',
    );
    expect(sim(fixture('broken-assertion.yaml'), '--operator-store', 'disk').out).toContain(
      '--operator-store must be memory or pglite, got disk',
    );
  });
});
