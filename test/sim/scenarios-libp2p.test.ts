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

/**
 * The same scenarios as `scenarios.test.ts`, on the real libp2p stack (memory transport): the
 * verdict (every assertion and invariant) must be the one the sim network gives, i.e. a pass.
 */
describe('shipped scenarios on libp2p (memory transport)', () => {
  for (const file of files) {
    test(`scenario: ${file} passes with its default seed on libp2p`, async () => {
      const scenario = loadScenario(join(directory, file));
      const { result } = await runScenario(scenario, {
        seed: scenario.defaultSeed,
        network: 'libp2p',
        replayCommand: `pnpm sim scenarios/${file} --network libp2p`,
        keepTrace: false,
      });
      const failed = [
        ...result.assertions.filter((a) => !a.passed).map((a) => `${a.description}: ${a.detail}`),
        ...result.violations.map((v) => `${v.invariant} at ${v.atMs} ms: ${v.detail}`),
      ];
      expect(result.network).toBe('libp2p');
      expect(failed, `stalled deliveries: ${result.networkStalls}`).toEqual([]);
      expect(result.passed).toBe(true);
    }, 240_000);
  }
});
