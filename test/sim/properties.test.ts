import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { runScenario } from '../../sim/harness/run-scenario.ts';
import { withSwarmFaults } from '../../sim/harness/swarm.ts';
import { loadScenario } from '../../sim/scenario/parse-scenario.ts';
import type { OperatorSetup, Scenario } from '../../sim/scenario/scenario.ts';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';

const BYZANTINE: readonly OperatorBehaviourSpec[] = [
  { kind: 'silent' },
  { kind: 'wrongValue' },
  { kind: 'badSignature' },
  { kind: 'equivocate' },
  { kind: 'slow', delayMs: 5_000 },
];

/** A short scenario around a generated operator set and network faults. */
function scenarioFor(
  operators: OperatorSetup[],
  lossRate: number,
  duplicateRate: number,
): Scenario {
  return {
    name: 'property',
    description: 'generated',
    defaultSeed: 1,
    durationMs: 60_000,
    chain: {
      epochLengthBlocks: 8,
      gracePeriodBlocks: 2,
      blockTimeMs: 2_000,
      confirmations: 2,
      stateChainIds: [10],
      mainChainId: 31337,
    },
    network: { latencyMs: 20, jitterMs: 20, lossRate, duplicateRate },
    aggregator: {
      responseDeadlineMs: 3_000,
      expiryMs: 15_000,
      maxRetries: 3,
      selection: 'allActive',
    },
    operators,
    users: ['alice'],
    timeline: [
      {
        at: { kind: 'time', atMs: 4_000 },
        line: 0,
        action: { kind: 'setValue', chainId: 10, user: 'alice', key: 5n, value: 99n },
      },
      {
        at: { kind: 'epoch', epoch: 2 },
        line: 0,
        action: {
          kind: 'request',
          chainId: 10,
          user: 'alice',
          key: 5n,
          point: { kind: 'latestBlock' },
          count: 3,
          everyMs: 6_000,
        },
      },
    ],
    assertions: [],
  };
}

describe('simulator properties (fast-check; failures shrink to a small operator set)', () => {
  test('property: with any operator weights, a byzantine minority and lossy links, every invariant holds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1n, max: 1_000n }), { minLength: 3, maxLength: 6 }),
        fc.constantFrom(...BYZANTINE),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.integer({ min: 1, max: 1_000 }),
        async (weights, byzantine, lossRate, duplicateRate, seed) => {
          // The lightest operator misbehaves only when it holds less than a third of the weight.
          const total = weights.reduce((a, b) => a + b, 0n);
          let lightest = 0;
          for (const [index, weight] of weights.entries())
            if (weight < (weights[lightest] ?? 0n)) lightest = index;
          const operators: OperatorSetup[] = weights.map((weight, index) => ({
            name: `op${index}`,
            weight,
            behaviour: index === lightest && weight * 3n < total ? byzantine : { kind: 'honest' },
            registeredAtStart: true,
            spareKeys: 0,
          }));
          const { result } = await runScenario(scenarioFor(operators, lossRate, duplicateRate), {
            seed,
            replayCommand: 'property test',
            keepTrace: false,
          });
          expect(result.violations).toEqual([]);
        },
      ),
      { numRuns: 3, endOnFailure: true },
    );
  }, 300_000);

  test('behavior: a bounded swarm (3 seeds of drawn fault rates) keeps every invariant', async () => {
    const scenario = loadScenario('scenarios/suspension-after-5-misses.yaml');
    for (const seed of [1, 2, 3]) {
      const { result } = await runScenario(withSwarmFaults(scenario, seed), {
        seed,
        replayCommand: `pnpm sim scenarios/suspension-after-5-misses.yaml --swarm --seed ${seed}`,
        keepTrace: false,
      });
      expect(result.violations).toEqual([]);
      expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
    }
  }, 300_000);
});
