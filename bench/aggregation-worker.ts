/**
 * Worker: request → proof latency for one (network, N) configuration, in its own process so its
 * peak RSS is its own. Builds the simulator's cluster (real registry and operator nodes, Anvil,
 * PGlite, virtual clock) with instant links, waits until every operator is active, then
 *  - sends `samples` proof requests one at a time and times each from the `requestProof` call to
 *    the aggregator's task-ended event, in wall and in virtual time;
 *  - sends `burst` requests at one instant (proofs per second with tasks overlapping);
 *  - measures the CPU floor of the same work against the same Anvil (`lib/cpu-floor.ts`);
 *  - reports I/O per proof (gated calls, RPC requests by method) and memory.
 * Started by `pnpm bench`; by hand: node bench/aggregation-worker.ts --config '<json>' --result <path>.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { stateManagerAbi } from '../contracts-abi/StateManager.ts';
import { buildSimCluster, type SimCluster } from '../sim/harness/sim-cluster.ts';
import { createTrace } from '../sim/harness/trace.ts';
import { createStateManagerWriter } from '../src/adapters/chain-viem/writes.ts';
import type { TaskEndedEvent } from '../src/aggregator/aggregator.ts';
import { BENCH_STATE_CHAIN_ID, BENCH_USER, latencyScenario } from './lib/bench-scenario.ts';
import { type CpuFloor, measureCpuFloor } from './lib/cpu-floor.ts';
import {
  type CallSite,
  childPeakRssMiB,
  diffCounts,
  type GateCounters,
  meterGate,
  meterRpc,
  type RpcCounters,
} from './lib/instruments.ts';
import { type LatencySummary, median, summarizeLatencies } from './lib/measure.ts';
import { memoryMiB, progress, readWorkerArgs, writeWorkerResult } from './lib/worker-io.ts';

export type NetworkMode = 'sim' | 'libp2p';

export interface AggregationConfig {
  network: NetworkMode;
  operators: number;
  /** Sequential requests measured (after `warmup` unmeasured ones). */
  samples: number;
  /**
   * Wall-time budget of the measured phase: no new sample starts after it (at least 3 are taken),
   * and the burst is skipped once it is spent. Keeps slow configurations from stalling the bench.
   */
  measureBudgetMs: number;
  /** Wall-time budget for the cluster to become ready (every operator active). */
  readyBudgetMs: number;
  warmup: number;
  /** Requests sent at one instant for the throughput figure (0: skip). */
  burst: number;
  floorRepetitions: number;
  seed: number;
  /** Virtual ms between two sequential requests. */
  gapMs: number;
  /** Write a V8 CPU profile of the measured phase (samples and burst) here. */
  cpuProfilePath?: string;
  /** Attribute gated calls to the node code that made them (a stack capture per call). */
  gateCallSites?: boolean;
}

export interface IoPerProof {
  /** Outermost calls through the I/O gate (chain reads, store calls, block mining). */
  gatedCalls: number;
  /** Wall time the gate spent running them. */
  gateBusyMs: number;
  rpcRequests: number;
  rpcByMethod: Record<string, number>;
}

export interface AggregationResult {
  network: NetworkMode;
  operators: number;
  status: 'ok' | 'skipped';
  skippedReason?: string;
  thresholdSigners?: number;
  setup?: { clusterBuildMs: number; readyAtVirtualMs: number; readyWallMs: number };
  /** Request → proof, wall clock; sequential requests (`count` may be below `samples`: budget). */
  wallLatency?: LatencySummary;
  /** The same requests in virtual time (instant links: the protocol's own timers only). */
  virtualLatency?: LatencySummary;
  /** 1000 / mean wall latency: one request at a time. */
  sequentialProofsPerSec?: number;
  burst?: { proofs: number; wallMs: number; proofsPerSec: number };
  /** Means per sequential proof. */
  io?: IoPerProof;
  floor?: CpuFloor;
  /** wall latency p50 (and p95) / floor total. */
  ratioToFloor?: { p50: number; p95: number };
  /** Context for the floor: one store call and one chain read through the node's ports. */
  context?: { storeCallMs: number; portChainReadMs: number };
  memory?: {
    afterBuild: ReturnType<typeof memoryMiB>;
    end: ReturnType<typeof memoryMiB>;
    /** Peak RSS of the Anvil processes (separate processes: not in this worker's RSS). */
    anvil: { processes: number; peakRssMiB: number };
  };
  cpuProfilePath?: string;
  /**
   * With `gateCallSites`: gated calls per sequential proof (made while it was in flight), by the
   * node code that made them, busiest first.
   */
  gateCallSites?: CallSite[];
  wallMs: number;
}

interface Started {
  taskId: Hex;
  wallMs: number;
  virtualMs: number;
  gate: GateCounters;
  rpc: RpcCounters;
}

interface Ended {
  status: TaskEndedEvent['status'];
  wallMs: number;
  virtualMs: number;
  gate: GateCounters;
  rpc: RpcCounters;
}

const KEYS = 32;

async function main(config: AggregationConfig): Promise<AggregationResult> {
  const workerStartMs = performance.now();
  const label = `n=${config.operators} ${config.network}`;
  const scenario = latencyScenario(config.operators);
  const rpcMeter = meterRpc();

  // `network` is the simulator's option for choosing sim or libp2p; an older harness ignores it,
  // which the listen addresses below reveal.
  const clusterArgs = {
    scenario,
    seed: config.seed,
    trace: createTrace({ keepLines: false }),
    network: config.network,
    // Every operator reads the value it signs from the chain, as the floor counts it: the
    // simulator's shared history cache would answer all but the first of those reads.
    cacheStateHistory: false,
    batchChainReads: false,
  } as Parameters<typeof buildSimCluster>[0] & { network?: NetworkMode };
  const buildStartMs = performance.now();
  const cluster: SimCluster = await buildSimCluster(clusterArgs);
  const clusterBuildMs = performance.now() - buildStartMs;
  const onSimNetwork = cluster.registry.network
    .listenAddresses()
    .some((address) => address.startsWith('/sim/'));
  if (config.network === 'libp2p' && onSimNetwork) {
    await cluster.stop();
    return {
      network: config.network,
      operators: config.operators,
      status: 'skipped',
      skippedReason: 'simulator has no libp2p mode',
      wallMs: performance.now() - workerStartMs,
    };
  }
  if (config.network === 'sim' && !onSimNetwork) {
    await cluster.stop();
    throw new Error('asked for the sim network but the cluster is not on it');
  }
  progress(`${label}: cluster built in ${(clusterBuildMs / 1000).toFixed(1)} s`);
  const afterBuild = memoryMiB();
  const { clock } = cluster;
  if (config.gateCallSites) Error.stackTraceLimit = 40;
  const gateMeter = meterGate(cluster.gate, { callSites: config.gateCallSites === true });

  try {
    // Blocks every blockTimeMs, as the scenario runner mines them (no invariant checks here).
    const tick = async () => {
      await cluster.mineBlock();
      clock.setExclusiveTimer(scenario.chain.blockTimeMs, () => void tick());
    };
    clock.setExclusiveTimer(scenario.chain.blockTimeMs, () => void tick());

    // Values for KEYS keys; each request asks for a distinct (key, block) so each is a new task.
    const userKey = cluster.users.get(BENCH_USER) as Hex;
    const user: Address = privateKeyToAddress(userKey);
    const stateChain = cluster.testbed.stateChains.get(BENCH_STATE_CHAIN_ID);
    if (!stateChain) throw new Error(`no state chain ${BENCH_STATE_CHAIN_ID}`);
    const writer = createStateManagerWriter(
      stateChain.anvil.writeContext(privateKeyToAccount(userKey)),
      stateChain.stateManager,
    );
    const hash = await cluster.gate.run(() =>
      writer.batchSetValues(
        Array.from({ length: KEYS }, (_, k) => ({ key: BigInt(k + 1), value: BigInt(1000 + k) })),
      ),
    );
    await clock.advanceBy(scenario.chain.blockTimeMs);
    const receipt = await stateChain.anvil.publicClient.getTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error('batchSetValues reverted');
    const valuesBlock = receipt.blockNumber;
    let nextQuery = 0;
    const newQuery = () => {
      const index = nextQuery++;
      return {
        chainId: BENCH_STATE_CHAIN_ID,
        targetAddress: user,
        key: BigInt(1 + (index % KEYS)),
        blockNumber: valuesBlock + BigInt(Math.floor(index / KEYS)),
      };
    };

    // Ready: the registry has advanced an epoch with all N active, and every operator adopted it.
    const readyStartMs = performance.now();
    let readyState = 'no epoch yet';
    const notReady = () =>
      `not ready after ${((performance.now() - readyStartMs) / 1000).toFixed(0)} s wall (virtual ${((clock.now() - cluster.startMs) / 1000).toFixed(0)} s): ${readyState}`;
    // One `advanceBy` can itself take long (libp2p: settling waits for the network), so a wall
    // watchdog ends the worker with the last known state instead of letting the parent time out.
    const watchdog = setTimeout(() => {
      progress(`${label}: FAILED: ${notReady()}`);
      // Stop the Anvil children (so they are reaped), but do not wait on a stuck network.
      const stopped = cluster.testbed.stop().catch(() => {});
      const grace = new Promise((resolve) => setTimeout(resolve, 5000));
      void Promise.race([stopped, grace]).then(() => process.exit(1));
    }, config.readyBudgetMs);
    let thresholdWeightWei = 0n;
    for (let waitedMs = 0; ; waitedMs += 1000) {
      const latest = await cluster.registry.store.epochStates.getLatest();
      const active = await cluster.registry.store.operators.listByStatus('active');
      const adopted = cluster.operators.filter((operator) => {
        const epoch = operator.node.status().epoch;
        return epoch !== undefined && epoch.epoch === latest?.epoch && epoch.self !== undefined;
      }).length;
      readyState = `epoch ${latest?.epoch ?? 'none'}, ${active.length}/${config.operators} active, ${adopted} adopted it`;
      if (latest && latest.epoch >= 1 && active.length === config.operators) {
        if (adopted === config.operators) {
          thresholdWeightWei = latest.thresholdWeightWei;
          break;
        }
      }
      if (waitedMs > 300_000 || performance.now() - readyStartMs > config.readyBudgetMs) {
        throw new Error(notReady());
      }
      await clock.advanceBy(1000);
    }
    clearTimeout(watchdog);
    const readyAtVirtualMs = clock.now() - cluster.startMs;
    const readyWallMs = performance.now() - readyStartMs;
    progress(
      `${label}: ready at virtual ${(readyAtVirtualMs / 1000).toFixed(0)} s (${(readyWallMs / 1000).toFixed(1)} s wall)`,
    );
    const thresholdSigners = Number((thresholdWeightWei + 99n) / 100n);

    const ended = new Map<Hex, Ended>();
    let inFlight = 0;
    cluster.registry.node.aggregator.onTaskEnded((event) => {
      inFlight--;
      if (inFlight === 0) gateMeter.attribute(false);
      ended.set(event.taskId, {
        status: event.status,
        wallMs: performance.now(),
        virtualMs: clock.now(),
        gate: gateMeter.read(),
        rpc: rpcMeter.read(),
      });
    });

    /** Call sites are attributed only while a measured (sequential) request is in flight. */
    let measuring = false;
    /** Sends `count` requests at virtual time `atMs`; resolves once all have ended. */
    const requestAt = async (atMs: number, count: number) => {
      const pending: Promise<Started>[] = [];
      clock.setTimer(atMs - clock.now(), () => {
        inFlight += count;
        gateMeter.attribute(measuring);
        for (let i = 0; i < count; i++) {
          const query = newQuery();
          const started = {
            wallMs: performance.now(),
            virtualMs: clock.now(),
            gate: gateMeter.read(),
            rpc: rpcMeter.read(),
          };
          pending.push(
            cluster.registry.node.aggregator.requestProof(query).then((outcome) => {
              if (!outcome.created) throw new Error(`request ${nextQuery} was not a new task`);
              return { ...started, taskId: outcome.taskId };
            }),
          );
        }
      });
      await clock.advanceTo(atMs);
      const started = await Promise.all(pending);
      const deadlineMs = atMs + 30_000;
      while (!started.every((s) => ended.has(s.taskId))) {
        const next = clock.nextTimerAtMs();
        if (next === undefined || next > deadlineMs) throw new Error('a task did not end in 30 s');
        await clock.advanceTo(Math.max(next, clock.now()));
      }
      return started.map((s) => ({ started: s, ended: ended.get(s.taskId) as Ended }));
    };

    for (let i = 0; i < config.warmup; i++) await requestAt(clock.now() + config.gapMs, 1);
    progress(`${label}: ${config.warmup} warm-up requests done; measuring ${config.samples}`);

    let session: Session | undefined;
    if (config.cpuProfilePath) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    measuring = true;
    const samples: { started: Started; ended: Ended }[] = [];
    let lastReportMs = performance.now();
    const measureStartMs = performance.now();
    const overBudget = () => performance.now() - measureStartMs > config.measureBudgetMs;
    for (let i = 0; i < config.samples; i++) {
      if (i >= 3 && overBudget()) {
        progress(`${label}: measuring budget spent after ${i} of ${config.samples} proofs`);
        break;
      }
      const [sample] = await requestAt(clock.now() + config.gapMs, 1);
      if (!sample) throw new Error('no sample');
      if (sample.ended.status !== 'completed') {
        throw new Error(`task ${sample.started.taskId} ended ${sample.ended.status}`);
      }
      samples.push(sample);
      if (performance.now() - lastReportMs > 5000 || i === config.samples - 1) {
        lastReportMs = performance.now();
        const latest = sample.ended.wallMs - sample.started.wallMs;
        progress(`${label}: ${i + 1}/${config.samples} proofs (last ${latest.toFixed(0)} ms wall)`);
      }
    }
    measuring = false;
    const gateCallSites = gateMeter.callSites().map((entry) => ({
      site: entry.site,
      calls: entry.calls / samples.length,
      busyMs: entry.busyMs / samples.length,
    }));
    let burst: AggregationResult['burst'];
    if (config.burst > 0 && overBudget()) {
      progress(`${label}: measuring budget spent; no burst`);
    } else if (config.burst > 0) {
      const results = await requestAt(clock.now() + config.gapMs, config.burst);
      const firstStartMs = Math.min(...results.map((r) => r.started.wallMs));
      const lastEndMs = Math.max(...results.map((r) => r.ended.wallMs));
      const notCompleted = results.filter((r) => r.ended.status !== 'completed').length;
      if (notCompleted > 0) throw new Error(`${notCompleted} burst tasks did not complete`);
      const wallMs = lastEndMs - firstStartMs;
      burst = { proofs: config.burst, wallMs, proofsPerSec: config.burst / (wallMs / 1000) };
      progress(`${label}: burst of ${config.burst}: ${burst.proofsPerSec.toFixed(1)} proofs/s`);
    }
    let cpuProfilePath: string | undefined;
    if (session && config.cpuProfilePath) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(config.cpuProfilePath, JSON.stringify(profile));
      session.disconnect();
      cpuProfilePath = config.cpuProfilePath;
    }

    const wallLatencies = samples.map((s) => s.ended.wallMs - s.started.wallMs);
    const virtualLatencies = samples.map((s) => s.ended.virtualMs - s.started.virtualMs);
    const sumOf = (pick: (s: { started: Started; ended: Ended }) => number) =>
      samples.reduce((total, s) => total + pick(s), 0) / samples.length;
    const rpcByMethod: Record<string, number> = {};
    for (const s of samples) {
      for (const [method, n] of Object.entries(
        diffCounts(s.ended.rpc.byMethod, s.started.rpc.byMethod),
      )) {
        rpcByMethod[method] = (rpcByMethod[method] ?? 0) + n / samples.length;
      }
    }
    const io: IoPerProof = {
      gatedCalls: sumOf((s) => s.ended.gate.calls - s.started.gate.calls),
      gateBusyMs: sumOf((s) => s.ended.gate.busyMs - s.started.gate.busyMs),
      rpcRequests: sumOf((s) => s.ended.rpc.requests - s.started.rpc.requests),
      rpcByMethod,
    };

    // The floor, against the same Anvil, with the nodes idle (virtual time stands still).
    progress(`${label}: measuring the CPU floor`);
    const readHistory = () =>
      stateChain.anvil.publicClient.readContract({
        address: stateChain.stateManager,
        abi: stateManagerAbi,
        functionName: 'getHistoryAtBlock',
        args: [user, 1n, valuesBlock],
      });
    const floor = await measureCpuFloor({
      operators: config.operators,
      thresholdSigners,
      repetitions: config.floorRepetitions,
      readHistory,
    });
    const storeCallMs: number[] = [];
    const portChainReadMs: number[] = [];
    const portChain = cluster.chains.state(BENCH_STATE_CHAIN_ID);
    for (let i = 0; i < 30; i++) {
      let startMs = performance.now();
      await cluster.registry.store.epochStates.getLatest();
      storeCallMs.push(performance.now() - startMs);
      startMs = performance.now();
      await portChain.getHistoryAtBlock({ user, key: 1n, blockNumber: valuesBlock });
      portChainReadMs.push(performance.now() - startMs);
    }

    const wallLatency = summarizeLatencies(wallLatencies) as LatencySummary;
    const memoryEnd = memoryMiB();
    const anvil = childPeakRssMiB('anvil');
    progress(
      `${label}: p50 ${wallLatency.p50Ms.toFixed(1)} ms wall, floor ${floor.totalMs.toFixed(1)} ms, peak RSS ${memoryEnd.peakRssMiB.toFixed(0)} MiB`,
    );
    return {
      network: config.network,
      operators: config.operators,
      status: 'ok',
      thresholdSigners,
      setup: { clusterBuildMs, readyAtVirtualMs, readyWallMs },
      wallLatency,
      virtualLatency: summarizeLatencies(virtualLatencies) as LatencySummary,
      sequentialProofsPerSec: 1000 / wallLatency.meanMs,
      ...(burst === undefined ? {} : { burst }),
      io,
      floor,
      ratioToFloor: {
        p50: wallLatency.p50Ms / floor.totalMs,
        p95: wallLatency.p95Ms / floor.totalMs,
      },
      context: { storeCallMs: median(storeCallMs), portChainReadMs: median(portChainReadMs) },
      memory: { afterBuild, end: memoryEnd, anvil },
      ...(cpuProfilePath === undefined ? {} : { cpuProfilePath }),
      ...(config.gateCallSites ? { gateCallSites } : {}),
      wallMs: performance.now() - workerStartMs,
    };
  } finally {
    await cluster.stop();
  }
}

const { config, resultPath } = readWorkerArgs<AggregationConfig>();
try {
  writeWorkerResult(resultPath, await main(config));
  process.exit(0);
} catch (error) {
  progress(`n=${config.operators} ${config.network}: FAILED: ${String(error)}`);
  if (error instanceof Error && error.stack) progress(error.stack);
  process.exit(1);
}
