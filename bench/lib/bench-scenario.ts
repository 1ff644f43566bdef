/**
 * Scenarios the bench builds in code (no YAML): N identical honest operators, one user, one
 * state chain. Values not given here are the scenario-file defaults (`SCENARIO_DEFAULTS`).
 */
import { SCENARIO_DEFAULTS } from '../../sim/scenario/parse-scenario.ts';
import type {
  NetworkConditionsSetup,
  OperatorSetup,
  Scenario,
  TimelineStep,
} from '../../sim/scenario/scenario.ts';

export const BENCH_STATE_CHAIN_ID = 10;
export const BENCH_USER = 'alice';

/** `op000` … : three digits so 128 operators sort and print evenly. */
export function benchOperators(count: number): OperatorSetup[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `op${String(index).padStart(3, '0')}`,
    weight: 100n,
    behaviour: { kind: 'honest' },
    registeredAtStart: true,
    spareKeys: 0,
  }));
}

/** Links with no delay: every hop of one aggregation happens at the same virtual instant. */
export const INSTANT_LINKS: NetworkConditionsSetup = {
  latencyMs: 0,
  jitterMs: 0,
  lossRate: 0,
  duplicateRate: 0,
};

/**
 * The deployment the latency worker drives itself (it ignores `durationMs`, the timeline and the
 * assertions): 1 s blocks, 20-block epochs (operators registered before the run are active from
 * epoch 1), the default aggregator settings.
 */
export function latencyScenario(operators: number): Scenario {
  return {
    name: `bench-latency-n${operators}`,
    description: `${operators} honest operators serving proof requests one at a time`,
    defaultSeed: 1,
    durationMs: 3_600_000,
    chain: {
      ...SCENARIO_DEFAULTS.chain,
      stateChainIds: [BENCH_STATE_CHAIN_ID],
      epochLengthBlocks: 20,
      gracePeriodBlocks: 2,
      blockTimeMs: 1000,
      confirmations: 1,
    },
    network: INSTANT_LINKS,
    aggregator: { ...SCENARIO_DEFAULTS.aggregator },
    operators: benchOperators(operators),
    users: [BENCH_USER],
    timeline: [],
    assertions: [],
  };
}

/**
 * Time compression (a full simulator run, invariants checked after every block): `operators`
 * operators, `durationMs` of virtual time with the default chain and network settings (2 s
 * blocks, 20 ± 10 ms links), one proof request every `requestEveryMs` from `firstRequestAtMs`
 * (by then epoch 1 has started and the operators are active) to the end.
 */
export function compressionScenario(args: {
  operators: number;
  durationMs: number;
  requestEveryMs: number;
  firstRequestAtMs: number;
}): Scenario {
  const count = Math.floor((args.durationMs - 1 - args.firstRequestAtMs) / args.requestEveryMs) + 1;
  const timeline: TimelineStep[] = [
    {
      at: { kind: 'time', atMs: 4000 },
      line: 0,
      action: {
        kind: 'setValue',
        chainId: BENCH_STATE_CHAIN_ID,
        user: BENCH_USER,
        key: 1n,
        value: 42n,
      },
    },
    {
      at: { kind: 'time', atMs: args.firstRequestAtMs },
      line: 0,
      action: {
        kind: 'request',
        chainId: BENCH_STATE_CHAIN_ID,
        user: BENCH_USER,
        key: 1n,
        point: { kind: 'latestBlock' },
        count,
        everyMs: args.requestEveryMs,
      },
    },
  ];
  return {
    name: `bench-compression-n${args.operators}`,
    description: `${args.operators} operators, a proof request every ${args.requestEveryMs / 1000} s`,
    defaultSeed: 1,
    durationMs: args.durationMs,
    chain: { ...SCENARIO_DEFAULTS.chain, stateChainIds: [BENCH_STATE_CHAIN_ID] },
    network: { ...SCENARIO_DEFAULTS.network },
    aggregator: { ...SCENARIO_DEFAULTS.aggregator },
    operators: benchOperators(args.operators),
    users: [BENCH_USER],
    timeline,
    assertions: [
      {
        kind: 'taskCount',
        outcome: 'completed',
        comparison: '==',
        value: count,
        line: 0,
        timing: { kind: 'final' },
      },
    ],
  };
}
