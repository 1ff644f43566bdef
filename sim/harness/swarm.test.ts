import { describe, expect, test } from 'vitest';
import { loadScenario } from '../scenario/parse-scenario.ts';
import type { OperatorSetup, Scenario } from '../scenario/scenario.ts';
import { runScenario } from './run-scenario.ts';
import { drawSwarmFaults, SAFETY_SHARE, withSwarmFaults } from './swarm.ts';

const SEEDS = Array.from({ length: 200 }, (_, index) => index + 1);

/** A deployment of `weights` (one of them byzantine in the scenario itself, when given). */
function scenarioWith(weights: readonly bigint[], byzantineIndex?: number): Scenario {
  const base = loadScenario('scenarios/suspension-after-5-misses.yaml');
  const operators: OperatorSetup[] = weights.map((weight, index) => ({
    name: `op${index}`,
    weight,
    behaviour: index === byzantineIndex ? { kind: 'silent' } : { kind: 'honest' },
    registeredAtStart: true,
    spareKeys: 0,
  }));
  return { ...base, operators };
}

function boundsHold(scenario: Scenario, seed: number): void {
  const { faults, safety, heal, healAtMs } = drawSwarmFaults(scenario, seed);
  const weightOf = (name: string) =>
    scenario.operators.find((operator) => operator.name === name)?.weight ?? 0n;
  const total = scenario.operators.reduce((sum, operator) => sum + operator.weight, 0n);
  const crashed = faults.filter((f) => f.fault === 'operator crash').flatMap((f) => f.targets);
  const byzantine = faults
    .filter((f) => f.fault === 'byzantine operator')
    .flatMap((f) => f.targets);
  const ownByzantine = scenario.operators
    .filter((operator) => operator.behaviour.kind !== 'honest')
    .map((operator) => operator.name);
  const where = `seed ${seed}`;
  // A byzantine minority: less than a third of the weight, the scenario's own included.
  const byzantineWeight = [...byzantine, ...ownByzantine].reduce((s, n) => s + weightOf(n), 0n);
  expect(byzantineWeight * 3n < total, where).toBe(true);
  // A crashed minority, disjoint from the byzantine operators, each crashed once.
  expect(crashed.length * 2 < scenario.operators.length, where).toBe(true);
  expect(new Set(crashed).size, where).toBe(crashed.length);
  for (const name of crashed) expect([...byzantine, ...ownByzantine], where).not.toContain(name);
  // Every fault step falls in the safety phase; RPC faults end before the heal.
  expect(healAtMs).toBe(Math.floor(scenario.durationMs * SAFETY_SHARE));
  for (const step of safety) {
    expect(step.at.kind === 'time' && step.at.atMs < healAtMs, where).toBe(true);
    if (step.action.kind === 'rpcFault' && step.at.kind === 'time') {
      expect(step.at.atMs + step.action.durationMs, where).toBeLessThanOrEqual(healAtMs);
      expect(step.action.errorRate, where).toBeLessThanOrEqual(0.3);
    }
  }
  // The heal restores every node the safety phase touched.
  const healed = (kind: string, node: string) =>
    heal.some(
      (step) =>
        step.action.kind === kind &&
        (('node' in step.action && step.action.node === node) ||
          ('operator' in step.action && step.action.operator === node)),
    );
  for (const name of crashed) expect(healed('restart', name), where).toBe(true);
  for (const name of byzantine) expect(healed('setBehaviour', name), where).toBe(true);
  for (const step of safety) {
    if (step.action.kind === 'crash') expect(healed('restart', step.action.node), where).toBe(true);
  }
  expect(heal.some((step) => step.action.kind === 'networkConditions')).toBe(true);
}

describe('swarm fault menu', () => {
  test('behavior: over 200 seeds the drawn faults keep the bounds: byzantine weight < 1/3, a crashed minority, all healed', () => {
    const shapes = [
      scenarioWith([100n, 100n, 100n, 100n, 100n, 100n]),
      scenarioWith([500n, 300n, 300n, 100n, 100n, 100n, 100n]),
      scenarioWith([100n, 100n, 100n, 100n], 3), // one third is out of reach already
      scenarioWith([1n, 1_000n, 1n]),
    ];
    for (const scenario of shapes) for (const seed of SEEDS) boundsHold(scenario, seed);
  });

  test('behavior: the same seed draws the same faults; seeds differ and, over many, draw every kind', () => {
    const scenario = scenarioWith([100n, 100n, 100n, 100n, 100n, 100n]);
    expect(drawSwarmFaults(scenario, 7)).toEqual(drawSwarmFaults(scenario, 7));
    expect(withSwarmFaults(scenario, 7)).toEqual(withSwarmFaults(scenario, 7));
    const draws = SEEDS.map((seed) => drawSwarmFaults(scenario, seed));
    expect(new Set(draws.map((draw) => JSON.stringify(draw.faults))).size).toBeGreaterThan(150);
    const kinds = new Set(draws.flatMap((draw) => draw.faults.map((fault) => fault.fault)));
    expect([...kinds].sort()).toEqual([
      'byzantine operator',
      'hostile peer',
      'network rates',
      'operator crash',
      'registry crash',
      'rpc faults',
    ]);
    const behaviours = new Set(
      draws.flatMap((draw) =>
        draw.safety.flatMap((step) =>
          step.action.kind === 'setBehaviour' ? [step.action.behaviour.kind] : [],
        ),
      ),
    );
    expect([...behaviours].sort()).toEqual([
      'badSignature',
      'equivocate',
      'silent',
      'slow',
      'wrongValue',
    ]);
  });

  test('behavior: the liveness phase asks for proofs of its own and requires them to complete', () => {
    const scenario = loadScenario('scenarios/suspension-after-5-misses.yaml');
    const swarm = withSwarmFaults(scenario, 3);
    const healAtMs = Math.floor(scenario.durationMs * SAFETY_SHARE);
    const progress = swarm.timeline.find(
      (step) =>
        step.action.kind === 'request' && step.at.kind === 'time' && step.at.atMs > healAtMs,
    );
    expect(progress?.action).toMatchObject({ kind: 'request', point: { kind: 'latestBlock' } });
    const count = progress?.action.kind === 'request' ? progress.action.count : 0;
    expect(count).toBeGreaterThan(0);
    expect(swarm.assertions).toContainEqual(
      expect.objectContaining({ kind: 'taskCount', outcome: 'completed', value: count }),
    );
    expect(swarm.assertions).toContainEqual(
      expect.objectContaining({ kind: 'taskCount', outcome: 'pending', value: 0 }),
    );
  });

  test('behavior: a bounded swarm (3 seeds on a small scenario) keeps every invariant and makes progress after the heal', async () => {
    // Six honest operators (the scenario's silent one made honest leaves room for a drawn
    // byzantine one). Seeds 1, 8 and 12 draw between them operator crashes, wrongValue,
    // badSignature and slow operators, RPC faults on the main chain and two registry crashes.
    const base = loadScenario('scenarios/suspension-after-5-misses.yaml');
    const scenario: Scenario = {
      ...base,
      operators: base.operators.map((operator) => ({ ...operator, behaviour: { kind: 'honest' } })),
    };
    const drawn = new Set<string>();
    for (const seed of [1, 8, 12]) {
      for (const fault of drawSwarmFaults(scenario, seed).faults) drawn.add(fault.fault);
      const { result } = await runScenario(withSwarmFaults(scenario, seed), {
        seed,
        replayCommand: `swarm.test.ts seed ${seed}`,
        keepTrace: false,
      });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(
        result.assertions.filter((a) => !a.passed),
        `seed ${seed}`,
      ).toEqual([]);
      expect(result.assertions.length, `seed ${seed}: progress is asserted`).toBeGreaterThan(1);
    }
    expect(drawn.size).toBe(6); // with 'hostile peer' (helper C)
  }, 600_000);
});
