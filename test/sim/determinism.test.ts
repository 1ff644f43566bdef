import { describe, expect, test } from 'vitest';
import { runScenario } from '../../sim/harness/run-scenario.ts';
import type { Scenario } from '../../sim/scenario/scenario.ts';

/** Small enough to run twice in CI: 5 operators (one silent), 70 virtual seconds. */
const scenario: Scenario = {
  name: 'determinism-check',
  description: 'two runs of one seed must produce the same trace',
  defaultSeed: 1,
  durationMs: 70_000,
  chain: {
    epochLengthBlocks: 8,
    gracePeriodBlocks: 2,
    blockTimeMs: 2_000,
    confirmations: 2,
    stateChainIds: [10],
    mainChainId: 31337,
  },
  network: { latencyMs: 20, jitterMs: 15, lossRate: 0.02, duplicateRate: 0.02 },
  aggregator: {
    responseDeadlineMs: 3_000,
    expiryMs: 15_000,
    maxRetries: 3,
    selection: 'allActive',
  },
  operators: Array.from({ length: 5 }, (_, i) => ({
    name: `op${i}`,
    weight: 100n,
    behaviour: i === 4 ? { kind: 'silent' as const } : { kind: 'honest' as const },
    registeredAtStart: true,
    spareKeys: 0,
  })),
  users: ['alice'],
  timeline: [
    {
      at: { kind: 'time', atMs: 4_000 },
      line: 1,
      action: { kind: 'setValue', chainId: 10, user: 'alice', key: 1n, value: 42n },
    },
    {
      at: { kind: 'epoch', epoch: 2 },
      line: 2,
      action: {
        kind: 'request',
        chainId: 10,
        user: 'alice',
        key: 1n,
        point: { kind: 'latestBlock' },
        count: 3,
        everyMs: 6_000,
      },
    },
  ],
  assertions: [
    {
      line: 3,
      timing: { kind: 'final' },
      kind: 'taskCount',
      outcome: 'completed',
      comparison: '==',
      value: 3,
    },
  ],
};

describe('simulator determinism', () => {
  test('behavior: two runs of the same seed give the same trace hash; another seed differs', async () => {
    const first = await runScenario(scenario, { seed: 11, replayCommand: 'test' });
    const second = await runScenario(scenario, { seed: 11, replayCommand: 'test' });
    expect(first.result.passed).toBe(true);
    expect(first.result.violations).toEqual([]);
    expect(second.result.traceHash).toBe(first.result.traceHash);
    expect(second.trace.lines()).toEqual(first.trace.lines());
    const other = await runScenario(scenario, { seed: 12, replayCommand: 'test' });
    expect(other.result.traceHash).not.toBe(first.result.traceHash);
  }, 120_000);

  test('behavior: on instant links (messages delivered between I/O hand-backs) two runs give the same trace', async () => {
    const instant: Scenario = {
      ...scenario,
      name: 'determinism-instant-links',
      network: { latencyMs: 0, jitterMs: 0, lossRate: 0, duplicateRate: 0 },
      operators: Array.from({ length: 12 }, (_, i) => ({
        name: `op${i}`,
        weight: 100n,
        behaviour: { kind: 'honest' as const },
        registeredAtStart: true,
        spareKeys: 0,
      })),
    };
    const first = await runScenario(instant, { seed: 5, replayCommand: 'test' });
    const second = await runScenario(instant, { seed: 5, replayCommand: 'test' });
    expect(first.result.passed).toBe(true);
    expect(first.result.tasks.every((task) => task.outcome === 'completed')).toBe(true);
    expect(second.trace.lines()).toEqual(first.trace.lines());
  }, 120_000);

  test('behavior: nodes on the SQL stores (PGlite) and on the memory stores reach the same outcome', async () => {
    // The memory stores answer at once while PGlite's calls wait their turn in the I/O gate, so
    // the traces interleave differently within an instant; what the nodes decide must not differ.
    const outcome = (run: Awaited<ReturnType<typeof runScenario>>) => ({
      passed: run.result.passed,
      violations: run.result.violations,
      tasks: run.result.tasks.map((task) => ({
        taskId: task.taskId,
        outcome: task.outcome,
        epoch: task.epoch,
      })),
      operators: run.result.operators.map((operator) => ({
        name: operator.name,
        status: operator.status,
      })),
    });
    const memory = await runScenario(scenario, { seed: 11, replayCommand: 'test' });
    const pglite = await runScenario(scenario, {
      seed: 11,
      replayCommand: 'test',
      operatorStore: 'pglite',
      registryStore: 'pglite',
    });
    expect(memory.result.passed).toBe(true);
    expect(memory.result.tasks).toHaveLength(3);
    expect(outcome(pglite)).toEqual(outcome(memory));
  }, 120_000);
});
