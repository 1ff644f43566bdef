import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runScenario } from '../../sim/harness/run-scenario.ts';
import { loadScenario } from '../../sim/scenario/parse-scenario.ts';

const directory = join(import.meta.dirname, '..', '..', 'scenarios');
/** The 100-operator run is a capacity check for `pnpm sim`, too slow for every CI run. */
const SKIPPED_IN_CI = new Set(['large-100.yaml']);
const files = readdirSync(directory)
  .filter((file) => file.endsWith('.yaml') && !SKIPPED_IN_CI.has(file))
  .sort();

describe('shipped scenarios on the sim network', () => {
  for (const file of files) {
    test(`scenario: ${file} passes with its default seed`, async () => {
      const scenario = loadScenario(join(directory, file));
      const { result } = await runScenario(scenario, {
        seed: scenario.defaultSeed,
        replayCommand: `pnpm sim scenarios/${file}`,
        keepTrace: false,
      });
      const failed = [
        ...result.assertions.filter((a) => !a.passed).map((a) => `${a.description}: ${a.detail}`),
        ...result.violations.map((v) => `${v.invariant} at ${v.atMs} ms: ${v.detail}`),
      ];
      expect(failed).toEqual([]);
      expect(result.passed).toBe(true);
    }, 240_000);
  }
});
