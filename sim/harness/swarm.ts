import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import type { Scenario, TimelineStep } from '../scenario/scenario.ts';

/**
 * A swarm run (`--swarm`): fault rates drawn from the seed for a safety phase (the first 60% of
 * the run: loss, duplication, latency, jitter), then a liveness phase on the scenario's own
 * network. Every invariant is checked throughout; of the scenario's assertions only the epoch
 * ones are kept (epochs must keep advancing), since counts and latencies are not promised under
 * arbitrary faults.
 */
export function withSwarmFaults(scenario: Scenario, seed: number): Scenario {
  const rng = createSeededRng(`swarm:${seed}`);
  const lossRate = Math.round(rng.next() * 0.1 * 1000) / 1000;
  const duplicateRate = Math.round(rng.next() * 0.1 * 1000) / 1000;
  const latencyMs = 5 + rng.int(150);
  const jitterMs = rng.int(100);
  const healAtMs = Math.floor(scenario.durationMs * 0.6);
  const faults: TimelineStep[] = [
    {
      at: { kind: 'time', atMs: 0 },
      line: 0,
      action: {
        kind: 'networkConditions',
        conditions: { lossRate, duplicateRate, latencyMs, jitterMs },
      },
    },
    {
      at: { kind: 'time', atMs: healAtMs },
      line: 0,
      action: { kind: 'networkConditions', conditions: { ...scenario.network } },
    },
  ];
  return {
    ...scenario,
    timeline: [...scenario.timeline, ...faults],
    // Under faults, counts and latencies are not promised; safety is (the invariants).
    assertions: scenario.assertions.filter((a) => a.kind === 'epoch'),
  };
}
