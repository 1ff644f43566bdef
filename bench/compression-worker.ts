/**
 * Worker: simulator time compression. Runs a full simulator scenario (`runScenario`: blocks,
 * invariants after every block, assertions) with `operators` operators for `durationMs` of
 * virtual time and a proof request every `requestEveryMs`, and reports wall time and the
 * virtual/wall ratio. When the run would take longer than `wallCapMs`, it stops there (but not
 * before 20 s of wall time after start-up) and projects the full run from the ratio since the
 * first block (the run is then marked incomplete).
 */
import { runScenario } from '../sim/harness/run-scenario.ts';
import { compressionScenario } from './lib/bench-scenario.ts';
import { descendantPids, diffCounts, meterRpc, type RpcCounters } from './lib/instruments.ts';
import { type LatencySummary, summarizeLatencies } from './lib/measure.ts';
import { memoryMiB, progress, readWorkerArgs, writeWorkerResult } from './lib/worker-io.ts';

export interface CompressionConfig {
  operators: number;
  durationMs: number;
  requestEveryMs: number;
  firstRequestAtMs: number;
  seed: number;
  wallCapMs: number;
}

export interface CompressionResult {
  operators: number;
  /** The scenario's virtual length. */
  durationMs: number;
  requestEveryMs: number;
  /** False when the wall cap stopped the run first. */
  complete: boolean;
  /** Virtual time reached (the whole duration when complete). */
  virtualReachedMs: number;
  /** Wall time from the start of the run (cluster build included) to `virtualReachedMs`. */
  wallMs: number;
  /** virtualReachedMs / wallMs. */
  ratio: number;
  /**
   * Wall time one full run takes: measured when complete; otherwise projected as the time to the
   * first block (cluster build) plus the rest of the virtual duration at the steady ratio since.
   */
  wallForFullRunMs: number;
  /** durationMs / wallForFullRunMs: the figure the target is checked against. */
  fullRunRatio: number;
  /** Wall time to the first block: building the cluster (Anvil, contracts, PGlite, nodes). */
  startupWallMs?: number;
  requests?: number;
  completed?: number;
  passed?: boolean;
  violations?: number;
  /** Request → proof in virtual time with the default links (20 ± 10 ms). */
  virtualLatency?: LatencySummary;
  /**
   * JSON-RPC requests to Anvil per virtual minute after start-up, by method (`eth_call` by
   * contract function): what the nodes read from the chains while time passes.
   */
  rpcPerVirtualMinute?: { total: number; httpRequests: number; byMethod: Record<string, number> };
  peakRssMiB: number;
}

const { config, resultPath } = readWorkerArgs<CompressionConfig>();
const scenario = compressionScenario(config);
const rpcMeter = meterRpc();
const startMs = performance.now();
let lastPrintedWallMs = 0;
/** The first progress report (first block): the cluster is built and time starts moving. */
let first: { virtualMs: number; wallMs: number; rpc: RpcCounters } | undefined;

const rpcPerVirtualMinute = (virtualMs: number): CompressionResult['rpcPerVirtualMinute'] => {
  if (!first || virtualMs <= first.virtualMs) return undefined;
  const minutes = (virtualMs - first.virtualMs) / 60_000;
  const now = rpcMeter.read();
  const byMethod = diffCounts(now.byMethod, first.rpc.byMethod);
  return {
    total: Math.round((now.requests - first.rpc.requests) / minutes),
    httpRequests: Math.round((now.httpRequests - first.rpc.httpRequests) / minutes),
    byMethod: Object.fromEntries(
      Object.entries(byMethod).map(([method, n]) => [method, Math.round(n / minutes)]),
    ),
  };
};

/** Wall time measured after start-up before a capped run may stop. */
const MIN_STEADY_WALL_MS = 20_000;

const withRpc = (rpc: CompressionResult['rpcPerVirtualMinute']) =>
  rpc === undefined ? {} : { rpcPerVirtualMinute: rpc };

let stopping = false;
const stopAtCap = (virtualMs: number) => {
  if (stopping) return;
  const wallMs = performance.now() - startMs;
  first ??= { virtualMs, wallMs, rpc: rpcMeter.read() };
  // The steady ratio needs time moving: the cap applies from MIN_STEADY_WALL_MS after the first
  // block on, however long start-up took.
  if (wallMs < Math.max(config.wallCapMs, first.wallMs + MIN_STEADY_WALL_MS)) return;
  if (virtualMs <= first.virtualMs) return;
  progress(
    `compression: stopping at ${(wallMs / 1000).toFixed(0)} s wall (cap ${config.wallCapMs / 1000} s), virtual ${(virtualMs / 60_000).toFixed(1)} min`,
  );
  const ratio = virtualMs / wallMs;
  const steadyRatio = (virtualMs - first.virtualMs) / Math.max(1, wallMs - first.wallMs);
  const wallForFullRunMs = first.wallMs + (config.durationMs - first.virtualMs) / steadyRatio;
  const result: CompressionResult = {
    operators: config.operators,
    durationMs: config.durationMs,
    requestEveryMs: config.requestEveryMs,
    complete: false,
    virtualReachedMs: virtualMs,
    wallMs,
    ratio,
    wallForFullRunMs,
    fullRunRatio: config.durationMs / wallForFullRunMs,
    startupWallMs: first.wallMs,
    ...withRpc(rpcPerVirtualMinute(virtualMs)),
    peakRssMiB: memoryMiB().peakRssMiB,
  };
  writeWorkerResult(resultPath, result);
  // The run is abandoned mid-way: stop the Anvil children ourselves and give the event loop a
  // moment to reap them (exiting at once would leave them as zombies of an exited parent).
  // The abandoned run's next chain calls fail; those failures are expected now.
  process.on('unhandledRejection', () => {});
  for (const pid of descendantPids('anvil')) process.kill(pid, 'SIGTERM');
  setTimeout(() => process.exit(0), 1000);
  stopping = true;
};

try {
  const runOptions = {
    seed: config.seed,
    network: 'sim',
    keepTrace: false,
    replayCommand: 'pnpm bench (compression)',
    progressIntervalMs: 1000,
    onProgress: (report: { atMs: number; tasksDone: number; epoch: number }) => {
      const wallS = (performance.now() - startMs) / 1000;
      if (wallS * 1000 - lastPrintedWallMs >= 10_000) {
        lastPrintedWallMs = wallS * 1000;
        progress(
          `compression: virtual ${(report.atMs / 60_000).toFixed(1)} min after ${wallS.toFixed(0)} s wall (${(report.atMs / 1000 / wallS).toFixed(1)}x), ${report.tasksDone} proofs, epoch ${report.epoch}`,
        );
      }
      stopAtCap(report.atMs);
    },
  } as Parameters<typeof runScenario>[1];
  const { result } = await runScenario(scenario, runOptions);
  const wallMs = performance.now() - startMs;
  const latencies = result.tasks
    .filter((task) => task.outcome === 'completed' && task.endedAtMs !== undefined)
    .map((task) => (task.endedAtMs ?? 0) - task.requestedAtMs);
  const output: CompressionResult = {
    operators: config.operators,
    durationMs: config.durationMs,
    requestEveryMs: config.requestEveryMs,
    complete: true,
    virtualReachedMs: config.durationMs,
    wallMs,
    ratio: config.durationMs / wallMs,
    wallForFullRunMs: wallMs,
    fullRunRatio: config.durationMs / wallMs,
    ...(first === undefined ? {} : { startupWallMs: first.wallMs }),
    ...withRpc(rpcPerVirtualMinute(config.durationMs)),
    requests: result.tasks.length,
    completed: result.tasks.filter((task) => task.outcome === 'completed').length,
    passed: result.passed,
    violations: result.violations.length,
    ...(latencies.length === 0
      ? {}
      : { virtualLatency: summarizeLatencies(latencies) as LatencySummary }),
    peakRssMiB: memoryMiB().peakRssMiB,
  };
  writeWorkerResult(resultPath, output);
  process.exit(0);
} catch (error) {
  progress(`compression: FAILED: ${String(error)}`);
  if (error instanceof Error && error.stack) progress(error.stack);
  process.exit(1);
}
