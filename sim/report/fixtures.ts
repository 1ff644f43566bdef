/**
 * Fabricated run results for the report's tests and for rendering a sample page
 * (`render-sample.ts`). Deterministic: the same options give the same result.
 */
import type {
  FaultWindow,
  OperatorSummary,
  RunResult,
  TaskOutcome,
  TaskSummary,
} from '../run-result.ts';

export interface FabricateOptions {
  operators?: number;
  /** Virtual run length. Default 10 minutes. */
  durationMs?: number;
  epochMs?: number;
  /** One proof request every this many virtual ms once operators are active. Default 2 s. */
  requestEveryMs?: number;
  seed?: number;
  scenario?: string;
}

const WEI = 10n ** 18n;

/**
 * A busy run: operators join, wait and go active over the first epochs, a few join late, one
 * turns byzantine (silent) and is suspended, one deregisters, one crashes and restarts, a group
 * is partitioned, and the network slows down for a while; there is an RPC outage and a reorg.
 */
export function fabricateRunResult(options: FabricateOptions = {}): RunResult {
  const count = options.operators ?? 24;
  const durationMs = options.durationMs ?? 600_000;
  const epochMs = options.epochMs ?? 60_000;
  const requestEveryMs = options.requestEveryMs ?? 2_000;
  const random = mulberry32(options.seed ?? 7);
  const width = Math.max(2, String(count).length);
  const name = (index: number) => `op${String(index + 1).padStart(width, '0')}`;
  const at = (fraction: number) => Math.round(durationMs * fraction);

  const lateFrom = Math.max(1, count - Math.max(1, Math.round(count / 6)));
  const byzantine = Math.min(4, count - 1);
  const crashed = Math.min(7, count - 1);
  const deregistered = Math.min(11, count - 1);
  const partitioned = [14, 15, 16].filter((index) => index < count && index !== byzantine);

  const epochStarts: { epoch: number; atMs: number }[] = [];
  for (let epoch = 0; epoch * epochMs <= durationMs; epoch++)
    epochStarts.push({ epoch, atMs: epoch * epochMs });

  const operators: OperatorSummary[] = [];
  for (let index = 0; index < count; index++) {
    const late = index >= lateFrom;
    const registeredAt = late ? at(0.33) + index * 700 : 1_000 + index * 250;
    const epochAfter = (ms: number) => (Math.floor(ms / epochMs) + 1) * epochMs;
    const waitingActiveAt = epochAfter(registeredAt);
    const activeAt = epochAfter(waitingActiveAt);
    const history = [
      { atMs: registeredAt, status: 'waitingJoin' },
      { atMs: waitingActiveAt, status: 'waitingActive' },
      { atMs: activeAt, status: 'active' },
    ];
    let behaviour = 'honest';
    if (index === byzantine) {
      behaviour = 'silent';
      history.push({ atMs: at(0.55), status: 'suspended' });
    } else if (index === deregistered) {
      history.push({ atMs: at(0.7), status: 'unactive' });
    }
    const weightEth = BigInt(index % 5 === 0 ? 64 : 32) + BigInt(index % 3);
    const status = history.at(-1)?.status ?? 'unregistered';
    operators.push({
      name: name(index),
      address: `0x${(index + 1).toString(16).padStart(40, '0')}`,
      weight: (weightEth * WEI).toString(),
      status,
      missing: index === byzantine ? 5 : index === crashed ? 2 : 0,
      successfulResponseCount: 0,
      behaviour,
      statusHistory: history.filter((change) => change.atMs <= durationMs),
    });
  }

  const faults: FaultWindow[] = [
    { kind: 'byzantine', targets: [name(byzantine)], fromMs: at(0.4), detail: 'silent' },
    {
      kind: 'crash',
      targets: [name(crashed)],
      fromMs: at(0.42),
      toMs: at(0.52),
      detail: `${name(crashed)} down`,
    },
    { kind: 'reorg', targets: [], fromMs: at(0.5), toMs: at(0.5), detail: 'chain 31337 depth 3' },
    {
      kind: 'crash',
      targets: ['registry1'],
      fromMs: at(0.58),
      toMs: at(0.6),
      detail: 'registry1 down',
    },
    {
      kind: 'network',
      targets: [],
      fromMs: at(0.78),
      toMs: at(0.87),
      detail: '{"latencyMs":900,"jitterMs":400,"loss":0.05}',
    },
    {
      kind: 'rpc',
      targets: [],
      fromMs: at(0.9),
      toMs: at(0.95),
      detail: 'chain 1: errors 0.5, +300 ms, stale 2',
    },
  ];
  if (partitioned.length > 0) {
    faults.splice(4, 0, {
      kind: 'partition',
      targets: partitioned.map(name),
      fromMs: at(0.63),
      toMs: at(0.73),
      detail: `${partitioned.map(name).join('+')} | rest`,
    });
  }

  const inWindow = (ms: number, kind: string) =>
    faults.some(
      (f) => f.kind === kind && ms >= f.fromMs && ms < (f.toMs ?? Number.POSITIVE_INFINITY),
    );
  const tasks: TaskSummary[] = [];
  const firstRequest = 2 * epochMs + 10_000;
  for (
    let requested = firstRequest, i = 0;
    requested < durationMs;
    requested += requestEveryMs, i++
  ) {
    const base = 180 + 420 * -Math.log(1 - random() * 0.98);
    let latency = Math.round(inWindow(requested, 'network') ? base * 3 + 900 : base);
    let outcome: TaskOutcome = 'completed';
    const roll = random();
    if (inWindow(requested, 'rpc') && roll < 0.4) {
      outcome = 'failed';
      latency = Math.round(1_000 + random() * 4_000);
    } else if (inWindow(requested, 'network') && roll < 0.12) {
      outcome = 'expired';
      latency = 30_000;
    } else if (roll < 0.01) {
      outcome = 'failed';
    }
    const ended = requested + latency;
    if (ended > durationMs) outcome = 'pending';
    const epoch = Math.floor(requested / epochMs);
    const signers =
      outcome === 'completed'
        ? operators
            .filter((op) =>
              op.statusHistory.some((c) => c.status === 'active' && c.atMs <= requested),
            )
            .filter((op) => op.behaviour === 'honest')
            .map((op) => op.name)
        : [];
    for (const signer of signers) {
      const operator = operators.find((op) => op.name === signer);
      if (operator !== undefined) operator.successfulResponseCount++;
    }
    tasks.push({
      taskId: `0x${(i + 1).toString(16).padStart(8, '0')}`,
      requestedAtMs: requested,
      ...(outcome === 'pending' ? {} : { endedAtMs: ended }),
      outcome,
      epoch,
      retries: latency > 2_000 ? 1 : 0,
      signers,
    });
  }

  const finalEpoch = epochStarts.at(-1)?.epoch ?? 0;
  const wallDurationMs = Math.round(durationMs / 143);
  return {
    scenario: options.scenario ?? `mixed-faults-${count}`,
    seed: options.seed ?? 7,
    network: 'sim',
    replayCommand: `pnpm sim scenarios/${options.scenario ?? `mixed-faults-${count}`}.yaml --seed ${options.seed ?? 7} --network sim`,
    passed: false,
    virtualDurationMs: durationMs,
    wallDurationMs,
    compressionRatio: durationMs / wallDurationMs,
    finalEpoch,
    epochStarts,
    tasks,
    operators,
    faults,
    assertions: [
      {
        description: 'all honest operators active by epoch 3 (line 41)',
        passed: true,
        detail: 'held from 180000 ms',
      },
      {
        description: `${name(byzantine)} suspended within 300000 ms (line 44)`,
        passed: true,
        detail: `held from ${at(0.55)} ms`,
      },
      {
        description: 'p95 latency of completed tasks <= 1500 ms (line 47)',
        passed: false,
        detail: 'p95 was 2377 ms',
      },
    ],
    violations: [
      {
        invariant: 'counters-match-trace',
        atMs: at(0.61),
        nodes: [name(crashed), 'registry1'],
        detail: `${name(crashed)}.missing is 2, the trace implies 1`,
      },
    ],
    traceHash: 'a3f19c0de4b2778e5c1d9a0f3b6e2d41c7a8e9f0b1c2d3e4f5a6b7c8d9e0f1a2',
    traceEventCount: 48_213,
  };
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A small hand-written run: 3 operators (one suspended after a byzantine spell), tasks in every
 * outcome, a crash and a network-wide fault, one failed assertion and one invariant violation.
 */
export function smallRunResult(overrides: Partial<RunResult> = {}): RunResult {
  return {
    scenario: 'three-operators',
    seed: 4242,
    network: 'sim',
    replayCommand: 'pnpm sim scenarios/three-operators.yaml --seed 4242 --network sim',
    passed: false,
    virtualDurationMs: 205_400,
    wallDurationMs: 1_436,
    compressionRatio: 205_400 / 1_436,
    finalEpoch: 7,
    epochStarts: [
      { epoch: 0, atMs: 0 },
      { epoch: 1, atMs: 30_000 },
      { epoch: 2, atMs: 60_000 },
      { epoch: 3, atMs: 90_000 },
      { epoch: 4, atMs: 120_000 },
      { epoch: 5, atMs: 150_000 },
      { epoch: 6, atMs: 180_000 },
      { epoch: 7, atMs: 200_000 },
    ],
    tasks: [
      {
        taskId: 't1',
        requestedAtMs: 65_000,
        endedAtMs: 65_400,
        outcome: 'completed',
        epoch: 2,
        retries: 0,
        signers: ['op01', 'op02'],
      },
      {
        taskId: 't2',
        requestedAtMs: 70_000,
        endedAtMs: 70_900,
        outcome: 'completed',
        epoch: 2,
        retries: 0,
        signers: ['op01', 'op02'],
      },
      {
        taskId: 't3',
        requestedAtMs: 80_000,
        endedAtMs: 81_200,
        outcome: 'completed',
        epoch: 2,
        retries: 1,
        signers: ['op01', 'op03'],
      },
      {
        taskId: 't4',
        requestedAtMs: 95_000,
        endedAtMs: 97_000,
        outcome: 'failed',
        epoch: 3,
        retries: 2,
        signers: [],
      },
      {
        taskId: 't5',
        requestedAtMs: 100_000,
        endedAtMs: 130_000,
        outcome: 'expired',
        epoch: 3,
        retries: 0,
        signers: [],
      },
      {
        taskId: 't6',
        requestedAtMs: 205_000,
        outcome: 'pending',
        epoch: 7,
        retries: 0,
        signers: [],
      },
    ],
    operators: [
      {
        name: 'op01',
        address: '0x0000000000000000000000000000000000000001',
        weight: '32000000000000000000',
        status: 'active',
        missing: 0,
        successfulResponseCount: 3,
        behaviour: 'honest',
        statusHistory: [
          { atMs: 1_000, status: 'waitingJoin' },
          { atMs: 30_000, status: 'waitingActive' },
          { atMs: 60_000, status: 'active' },
        ],
      },
      {
        name: 'op02',
        address: '0x0000000000000000000000000000000000000002',
        weight: '16000000000000000000',
        status: 'active',
        missing: 1,
        successfulResponseCount: 2,
        behaviour: 'honest',
        statusHistory: [
          { atMs: 1_200, status: 'waitingJoin' },
          { atMs: 30_000, status: 'waitingActive' },
          { atMs: 60_000, status: 'active' },
        ],
      },
      {
        name: 'op03',
        address: '0x0000000000000000000000000000000000000003',
        weight: '8000000000000000000',
        status: 'suspended',
        missing: 5,
        successfulResponseCount: 1,
        behaviour: 'wrongValue',
        statusHistory: [
          { atMs: 1_400, status: 'waitingJoin' },
          { atMs: 30_000, status: 'waitingActive' },
          { atMs: 60_000, status: 'active' },
          { atMs: 150_500, status: 'suspended' },
        ],
      },
    ],
    faults: [
      { kind: 'crash', targets: ['op02'], fromMs: 90_000, toMs: 110_000, detail: 'op02 down' },
      { kind: 'network', targets: [], fromMs: 120_000, toMs: 140_000, detail: 'latency 900 ms' },
      { kind: 'byzantine', targets: ['op03'], fromMs: 100_000, detail: 'wrongValue' },
    ],
    assertions: [
      { description: 'op03 suspended by epoch 6', passed: true, detail: 'held from 150500 ms' },
      { description: 'all tasks completed', passed: false, detail: '3 of 6 completed' },
    ],
    violations: [
      {
        invariant: 'no-proof-below-threshold',
        atMs: 97_250,
        nodes: ['aggregator'],
        detail: 'task t4 signed by 8e18 of 56e18',
      },
    ],
    traceHash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    traceEventCount: 12_345,
    ...overrides,
  };
}
