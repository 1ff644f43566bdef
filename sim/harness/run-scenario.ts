import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  createRegistryWriter,
  createStateManagerWriter,
} from '../../src/adapters/chain-viem/writes.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { ProofRequestError } from '../../src/aggregator/errors.ts';
import { epochForBlock, startBlockForEpoch } from '../../src/core/epoch-math.ts';
import { createBehaviour } from '../../src/operator/behaviour.ts';
import { unsuspendOperator } from '../../src/registry/admin.ts';
import { percentile } from '../report/format.ts';
import type {
  AssertionResult,
  FaultWindow,
  OperatorSummary,
  RunResult,
  TaskSummary,
} from '../run-result.ts';
import type {
  Action,
  Assertion,
  Comparison,
  Scenario,
  TimelineStep,
} from '../scenario/scenario.ts';
import type { NetworkMode } from './cluster-network.ts';
import { createInvariantChecker, type TaskRecordForChecks } from './invariants.ts';
import { buildSimCluster } from './sim-cluster.ts';
import { createTrace, stableJson, type Trace } from './trace.ts';

export interface RunOptions {
  seed: number;
  /** The network the nodes talk over (default: the deterministic sim network). */
  network?: NetworkMode;
  /** Printed for a person; the trace never depends on it. */
  onProgress?: (progress: {
    atMs: number;
    epoch: number;
    tasksDone: number;
    tasksPending: number;
    activeFaults: string[];
  }) => void;
  /** How often (wall ms) progress is reported. */
  progressIntervalMs?: number;
  /** Keep every trace line in memory (for writing and divergence checks). */
  keepTrace?: boolean;
  replayCommand: string;
}

export interface RunOutput {
  result: RunResult;
  trace: Trace;
}

type TrackedTask = Omit<TaskSummary, 'taskId'> & TaskRecordForChecks;

const secp256k1 = createNativeSecp256k1();

function compare(actual: number, comparison: Comparison, expected: number): boolean {
  switch (comparison) {
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
    case '==':
      return actual === expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
  }
}

/**
 * Runs one scenario: builds the cluster, replays the timeline in virtual time with blocks every
 * `blockTimeMs`, checks the invariants after every block, and evaluates the assertions. On the
 * sim network, same scenario + seed + commit → same trace hash; on libp2p, the same verdict.
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunOutput> {
  const wallStart = performance.now();
  const networkMode = options.network ?? 'sim';
  const trace = createTrace({ keepLines: options.keepTrace ?? true });
  const cluster = await buildSimCluster({
    scenario,
    seed: options.seed,
    trace,
    network: networkMode,
  });
  const { clock } = cluster;
  const rel = () => clock.now() - cluster.startMs;
  const record = (kind: string, data: Record<string, unknown> = {}) =>
    trace.record({ atMs: rel(), kind, ...data });
  const checker = createInvariantChecker(cluster);
  trace.onEvent((event) => checker.observe(event));

  const tasks = new Map<string, TrackedTask>();
  const faults: FaultWindow[] = [];
  const statusHistory = new Map<string, { atMs: number; status: string }[]>();
  const epochStarts: { epoch: number; atMs: number }[] = [];
  const withinSatisfied = new Map<number, number>();
  let currentEpoch = 0;
  let lastProgressWall = 0;

  const listenForEnds = () =>
    cluster.registry.node.aggregator.onTaskEnded((event) => {
      const task = tasks.get(event.taskId);
      if (task && task.endedAtMs === undefined) {
        task.endedAtMs = rel();
        task.outcome = event.status;
      }
    });
  listenForEnds();

  const operatorAddress = (name: string) => {
    const operator = cluster.operatorByName.get(name);
    if (!operator) throw new Error(`unknown operator ${name}`);
    return operator;
  };
  const userAddress = (name: string) => {
    const key = cluster.users.get(name);
    if (!key) throw new Error(`unknown user ${name}`);
    return { key, address: privateKeyToAccount(key).address };
  };
  const anvilFor = (chainId: number) => {
    const stateChain = cluster.testbed.stateChains.get(chainId);
    if (!stateChain) throw new Error(`unknown chain ${chainId}`);
    return stateChain;
  };
  const ownerRegistry = () =>
    createRegistryWriter(
      cluster.testbed.mainAnvil.writeContext(cluster.testbed.deployer, 'main chain'),
      cluster.testbed.deployment.stakeRegistry,
    );

  async function requestOnce(action: Extract<Action, { kind: 'request' }>): Promise<void> {
    const user = userAddress(action.user);
    const chain = cluster.chains.state(action.chainId);
    const query: {
      chainId: number;
      targetAddress: `0x${string}`;
      key: bigint;
      blockNumber?: bigint;
      timestampSec?: bigint;
    } = {
      chainId: action.chainId,
      targetAddress: user.address,
      key: action.key,
    };
    try {
      if (action.point.kind === 'block') query.blockNumber = action.point.blockNumber;
      else {
        const head = await chain.getBlockNumber();
        if (action.point.kind === 'latestBlock') query.blockNumber = head;
        else query.timestampSec = (await chain.getBlock(head)).timestampSec;
      }
      const outcome = await cluster.registry.node.aggregator.requestProof(query);
      record('request.accepted', { taskId: outcome.taskId, created: outcome.created, ...query });
      if (!tasks.has(outcome.taskId)) {
        const stored = await cluster.registry.store.tasks.get(outcome.taskId);
        tasks.set(outcome.taskId, {
          taskId: outcome.taskId,
          requestedAtMs: rel(),
          outcome: outcome.status === 'pending' ? 'pending' : outcome.status,
          ...(outcome.status === 'pending' ? {} : { endedAtMs: rel() }),
          epoch: stored?.epoch ?? 0,
          retries: 0,
          signers: [],
          chainId: action.chainId,
          query:
            query.timestampSec === undefined
              ? { blockNumber: query.blockNumber ?? 0n }
              : { timestampSec: query.timestampSec },
          user: user.address,
          key: action.key,
        });
      }
    } catch (error) {
      record('request.rejected', {
        ...query,
        code: error instanceof ProofRequestError ? error.code : 'ERROR',
        error: String(error),
      });
    }
  }

  async function apply(step: TimelineStep): Promise<void> {
    const { action } = step;
    record('action', { action: action.kind, line: step.line, detail: stableJson(action) });
    switch (action.kind) {
      case 'register': {
        const operator = operatorAddress(action.operator);
        const setup = scenario.operators.find((o) => o.name === action.operator);
        await cluster.gate.run(() =>
          ownerRegistry().registerOperator({
            operator: operator.address,
            signingKey: secp256k1.addressOf(operator.signingKeys[operator.keyIndex] as Hex),
            weight: setup?.weight ?? 0n,
          }),
        );
        break;
      }
      case 'deregister':
        await cluster.gate.run(() =>
          ownerRegistry().deregisterOperator({
            operator: operatorAddress(action.operator).address,
          }),
        );
        break;
      case 'setWeight':
        await cluster.gate.run(() =>
          ownerRegistry().updateOperatorWeight({
            operator: operatorAddress(action.operator).address,
            weight: action.weight,
          }),
        );
        break;
      case 'rotateKey': {
        const operator = operatorAddress(action.operator);
        const next = operator.signingKeys[operator.keyIndex + 1];
        if (!next) throw new Error(`${operator.name} has no spare signing key left`);
        operator.keyIndex += 1;
        const writer = createRegistryWriter(
          cluster.testbed.mainAnvil.writeContext(privateKeyToAccount(operator.operatorKey)),
          cluster.testbed.deployment.stakeRegistry,
        );
        await cluster.gate.run(() =>
          writer.updateOperatorSigningKey({ newSigningKey: secp256k1.addressOf(next) }),
        );
        break;
      }
      case 'setValue': {
        const user = userAddress(action.user);
        const stateChain = anvilFor(action.chainId);
        const writer = createStateManagerWriter(
          stateChain.anvil.writeContext(privateKeyToAccount(user.key)),
          stateChain.stateManager,
        );
        await cluster.gate.run(() => writer.setValue({ key: action.key, value: action.value }));
        break;
      }
      case 'request':
        for (let i = 0; i < action.count; i++) {
          if (i === 0) await requestOnce(action);
          else clock.setTimer(i * action.everyMs, () => void requestOnce(action));
        }
        break;
      case 'crash':
        if (action.node === 'registry') {
          if (cluster.registry.running) {
            cluster.registry.running = false;
            await cluster.registry.node.stop();
            await cluster.registry.network.stop();
          }
        } else {
          const operator = operatorAddress(action.node);
          if (operator.running) {
            operator.running = false;
            await operator.node.stop();
            await operator.network.stop();
          }
        }
        faults.push({
          kind: 'crash',
          targets: [action.node],
          fromMs: rel(),
          detail: `${action.node} down`,
        });
        break;
      case 'restart':
        if (action.node === 'registry') {
          if (!cluster.registry.running) {
            await cluster.registry.network.start();
            cluster.registry.node = cluster.rebuildRegistry();
            listenForEnds();
            await cluster.registry.node.start();
            cluster.registry.running = true;
          }
        } else {
          const operator = operatorAddress(action.node);
          if (!operator.running) {
            await operator.network.start();
            operator.node = cluster.rebuildOperator(operator);
            await operator.node.start();
            operator.running = true;
          }
        }
        closeFault('crash', action.node);
        break;
      case 'partition': {
        const peerOf = (name: string) =>
          name === 'registry'
            ? cluster.registry.network.peerId
            : operatorAddress(name).network.peerId;
        cluster.net.partition(action.groups.map((group) => group.map(peerOf)));
        faults.push({
          kind: 'partition',
          targets: action.groups.flat(),
          fromMs: rel(),
          detail: action.groups.map((g) => g.join('+')).join(' | '),
        });
        break;
      }
      case 'heal':
        cluster.net.heal();
        closeFault('partition');
        break;
      case 'setBehaviour': {
        const operator = operatorAddress(action.operator);
        operator.behaviour.current = createBehaviour(action.behaviour);
        faults.push({
          kind: 'byzantine',
          targets: [operator.name],
          fromMs: rel(),
          detail: operator.behaviour.current.label,
        });
        break;
      }
      case 'networkConditions':
        cluster.net.setConditions(action.conditions);
        faults.push({
          kind: 'network',
          targets: [],
          fromMs: rel(),
          detail: stableJson(action.conditions),
        });
        break;
      case 'rpcFault':
        cluster.rpcFaults.set(action.chainId, {
          errorRate: action.errorRate,
          latencyMs: action.latencyMs,
          staleBlocks: action.staleBlocks,
          untilMs: clock.now() + action.durationMs,
        });
        faults.push({
          kind: 'rpc',
          targets: [],
          fromMs: rel(),
          toMs: rel() + action.durationMs,
          detail: `chain ${action.chainId}: errors ${action.errorRate}, +${action.latencyMs} ms, stale ${action.staleBlocks}`,
        });
        break;
      case 'reorg': {
        const anvil = anvilFor(action.chainId).anvil;
        await cluster.gate.run(() => anvil.reorg(action.depth));
        faults.push({
          kind: 'reorg',
          targets: [],
          fromMs: rel(),
          toMs: rel(),
          detail: `chain ${action.chainId} depth ${action.depth}`,
        });
        break;
      }
      case 'clockSkew':
        if (action.node === 'registry') cluster.registry.skewMs = action.skewMs;
        else operatorAddress(action.node).skewMs = action.skewMs;
        faults.push({
          kind: 'clockSkew',
          targets: [action.node],
          fromMs: rel(),
          detail: `${action.skewMs} ms`,
        });
        break;
      case 'unsuspend':
        await unsuspendOperator(
          cluster.registry.store,
          operatorAddress(action.operator).address,
          currentEpoch,
        );
        checker.resetMisses(operatorAddress(action.operator).address);
        break;
    }
  }

  function closeFault(kind: string, target?: string) {
    for (const fault of faults) {
      if (
        fault.kind === kind &&
        fault.toMs === undefined &&
        (target === undefined || fault.targets.includes(target))
      ) {
        fault.toMs = rel();
      }
    }
  }

  // Timeline: time steps on timers, epoch steps on block ticks.
  const epochSteps = scenario.timeline.filter((s) => s.at.kind === 'epoch');
  for (const step of scenario.timeline) {
    if (step.at.kind === 'time') clock.setTimer(step.at.atMs, () => void run(step));
  }
  async function run(step: TimelineStep) {
    try {
      await apply(step);
    } catch (error) {
      record('action.failed', { line: step.line, error: String(error) });
    }
  }

  async function evaluateWithin() {
    for (const [index, assertion] of scenario.assertions.entries()) {
      if (assertion.timing.kind === 'final' || withinSatisfied.has(index)) continue;
      if ((await evaluate(assertion)).passed) withinSatisfied.set(index, rel());
    }
  }

  async function blockTick() {
    await cluster.mineBlock();
    const head = await cluster.gate.run(() => cluster.testbed.main.getBlockNumber());
    const epoch = epochForBlock(cluster.epochParams, head);
    if (epoch !== currentEpoch) {
      currentEpoch = epoch;
      epochStarts.push({ epoch, atMs: rel() });
      record('epoch', { epoch, block: head });
    }
    for (const step of epochSteps.splice(0)) {
      if (
        step.at.kind === 'epoch' &&
        head >= startBlockForEpoch(cluster.epochParams, step.at.epoch)
      )
        await run(step);
      else epochSteps.push(step);
    }
    await checker.check([...tasks.values()]);
    for (const record of await cluster.registry.store.operators.list()) {
      const operator = cluster.operators.find((o) => o.address === record.address);
      const name = operator?.name ?? record.address;
      const history = statusHistory.get(name) ?? [];
      if (history.at(-1)?.status !== record.status)
        history.push({ atMs: rel(), status: record.status });
      statusHistory.set(name, history);
    }
    await evaluateWithin();
    if (
      options.onProgress &&
      performance.now() - lastProgressWall >= (options.progressIntervalMs ?? 1000)
    ) {
      lastProgressWall = performance.now();
      const pending = [...tasks.values()].filter((t) => t.outcome === 'pending').length;
      options.onProgress({
        atMs: rel(),
        epoch: currentEpoch,
        tasksDone: tasks.size - pending,
        tasksPending: pending,
        activeFaults: faults
          .filter((f) => f.toMs === undefined || f.toMs > rel())
          .map((f) => `${f.kind} ${f.detail}`),
      });
    }
    clock.setTimer(scenario.chain.blockTimeMs, () => void blockTick());
  }

  async function evaluate(assertion: Assertion): Promise<AssertionResult> {
    const where = `line ${assertion.line}`;
    switch (assertion.kind) {
      case 'taskCount': {
        const all = [...tasks.values()];
        const count =
          assertion.outcome === 'all'
            ? all.length
            : all.filter((t) => t.outcome === assertion.outcome).length;
        return {
          description: `tasks ${assertion.outcome} ${assertion.comparison} ${assertion.value} (${where})`,
          passed: compare(count, assertion.comparison, assertion.value),
          detail: `${count} ${assertion.outcome}`,
        };
      }
      case 'operatorStatus': {
        const record = await cluster.registry.store.operators.get(
          operatorAddress(assertion.operator).address,
        );
        return {
          description: `${assertion.operator} is ${assertion.status} (${where})`,
          passed: record?.status === assertion.status,
          detail: `status ${record?.status ?? 'unknown'}`,
        };
      }
      case 'operatorCounter': {
        const record = await cluster.registry.store.operators.get(
          operatorAddress(assertion.operator).address,
        );
        const value = record?.[assertion.counter] ?? 0;
        return {
          description: `${assertion.operator} ${assertion.counter} ${assertion.comparison} ${assertion.value} (${where})`,
          passed: compare(value, assertion.comparison, assertion.value),
          detail: `${assertion.counter} = ${value}`,
        };
      }
      case 'latency': {
        const latencies = [...tasks.values()]
          .filter((t) => t.outcome === 'completed' && t.endedAtMs !== undefined)
          .map((t) => (t.endedAtMs ?? 0) - t.requestedAtMs);
        const value = percentile(latencies, assertion.percentile);
        return {
          description: `latency p${assertion.percentile} ${assertion.comparison} ${assertion.valueMs} ms (${where})`,
          passed: value !== undefined && compare(value, assertion.comparison, assertion.valueMs),
          detail:
            value === undefined ? 'no completed task' : `p${assertion.percentile} = ${value} ms`,
        };
      }
      case 'epoch':
        return {
          description: `epoch ${assertion.comparison} ${assertion.value} (${where})`,
          passed: compare(currentEpoch, assertion.comparison, assertion.value),
          detail: `epoch ${currentEpoch}`,
        };
    }
  }

  record('run.start', {
    scenario: scenario.name,
    seed: options.seed,
    network: networkMode,
    operators: scenario.operators.length,
  });
  clock.setTimer(scenario.chain.blockTimeMs, () => void blockTick());
  let failure: unknown;
  try {
    await clock.advanceTo(cluster.startMs + scenario.durationMs);
  } catch (error) {
    failure = error;
  }

  // Final state: outcomes from the store, invariants, counters, assertions.
  for (const task of tasks.values()) {
    const stored = await cluster.gate.run(() =>
      cluster.registry.store.tasks.get(task.taskId as Hex),
    );
    if (stored) {
      task.outcome = stored.status;
      task.retries = stored.retries;
      task.epoch = stored.epoch;
      if (stored.status === 'completed') {
        const proof = await cluster.gate.run(() =>
          cluster.registry.store.avsResponses.get(task.taskId as Hex),
        );
        task.signers = (proof?.signers ?? []).map(
          (s) => cluster.operators.find((o) => o.address === s.operator)?.name ?? s.operator,
        );
      }
    }
  }
  await checker.check([...tasks.values()]);
  await checker.checkCounters();
  const assertions: AssertionResult[] = [];
  for (const [index, assertion] of scenario.assertions.entries()) {
    if (assertion.timing.kind === 'final') {
      assertions.push(await evaluate(assertion));
      continue;
    }
    const deadlineMs =
      assertion.timing.kind === 'within'
        ? assertion.timing.byMs
        : (epochStarts.find((e) => e.epoch === (assertion.timing as { epoch: number }).epoch)
            ?.atMs ?? Number.POSITIVE_INFINITY);
    const satisfiedAt = withinSatisfied.get(index);
    const base = await evaluate(assertion);
    assertions.push({
      description: `${base.description.replace(/ \(line/, ` within ${Number.isFinite(deadlineMs) ? `${deadlineMs} ms` : 'its epoch'} (line`)}`,
      passed: satisfiedAt !== undefined && satisfiedAt <= deadlineMs,
      detail:
        satisfiedAt === undefined
          ? `never held (now: ${base.detail})`
          : `held from ${satisfiedAt} ms`,
    });
  }
  if (failure) {
    checker.violations.push({
      invariant: 'run-completed',
      atMs: rel(),
      nodes: [],
      detail: String(failure),
    });
  }

  const operators: OperatorSummary[] = [];
  for (const operator of cluster.operators) {
    const record = await cluster.gate.run(() =>
      cluster.registry.store.operators.get(operator.address),
    );
    const setup = scenario.operators.find((o) => o.name === operator.name);
    operators.push({
      name: operator.name,
      address: operator.address,
      weight: String(record?.weightWei ?? setup?.weight ?? 0n),
      status: record?.status ?? 'unregistered',
      missing: record?.missing ?? 0,
      successfulResponseCount: record?.successfulResponseCount ?? 0,
      behaviour: operator.behaviour.current.label,
      statusHistory: statusHistory.get(operator.name) ?? [],
    });
  }
  record('run.end', { epoch: currentEpoch, tasks: tasks.size });
  const networkStalls = cluster.net.stallCount();
  await cluster.stop();

  const wallDurationMs = performance.now() - wallStart;
  const passed = checker.violations.length === 0 && assertions.every((a) => a.passed);
  const result: RunResult = {
    scenario: scenario.name,
    seed: options.seed,
    network: networkMode,
    ...(networkMode === 'libp2p' ? { networkStalls } : {}),
    replayCommand: options.replayCommand,
    passed,
    virtualDurationMs: scenario.durationMs,
    wallDurationMs,
    compressionRatio: scenario.durationMs / Math.max(1, wallDurationMs),
    finalEpoch: currentEpoch,
    epochStarts,
    tasks: [...tasks.values()].map(
      ({ taskId, requestedAtMs, endedAtMs, outcome, epoch, retries, signers }) => ({
        taskId,
        requestedAtMs,
        ...(endedAtMs === undefined ? {} : { endedAtMs }),
        outcome,
        epoch,
        retries,
        signers,
      }),
    ),
    operators,
    faults,
    assertions,
    violations: checker.violations,
    traceHash: trace.hash(),
    traceEventCount: trace.count(),
  };
  return { result, trace };
}
