import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  createRegistryWriter,
  createStateManagerWriter,
} from '../../src/adapters/chain-viem/writes.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import { ProofRequestError } from '../../src/aggregator/errors.ts';
import { epochForBlock, startBlockForEpoch } from '../../src/core/epoch-math.ts';
import { createBehaviour } from '../../src/operator/behaviour.ts';
import { unsuspendOperator } from '../../src/registry/admin.ts';
import { epochStateHash } from '../../src/registry/state-hash.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
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
  RegistryCounterName,
  Scenario,
  TimelineStep,
} from '../scenario/scenario.ts';
import type { NetworkMode } from './cluster-network.ts';
import { createHostilePeer, type HostilePeer } from './hostile-peer.ts';
import { createInvariantChecker, type TaskRecordForChecks } from './invariants.ts';
import { buildSimCluster, type SimRegistry, type StoreMode } from './sim-cluster.ts';
import { createTrace, stableJson, type Trace } from './trace.ts';

/** How long the end of a run waits for the registries' replicated counters to agree. */
const SETTLE_REPLICATION_MAX_MS = 30_000;

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
  /** Where the operators keep their stores (default memory; see `buildSimCluster`). */
  operatorStore?: StoreMode;
  /** Where the registries keep their stores (default memory; see `buildSimCluster`). */
  registryStore?: StoreMode;
}

export interface RunOutput {
  result: RunResult;
  trace: Trace;
}

type TrackedTask = Omit<TaskSummary, 'taskId'> & TaskRecordForChecks & { via: string };

/** Trace messages the registries' replication logs, counted per registry for assertions. */
const REPLICATION_MESSAGES: Record<string, RegistryCounterName> = {
  'state divergence detected': 'divergencesDetected',
  'state repaired': 'divergencesRepaired',
};

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
    ...(options.operatorStore === undefined ? {} : { operatorStore: options.operatorStore }),
    ...(options.registryStore === undefined ? {} : { registryStore: options.registryStore }),
  });
  const { clock } = cluster;
  const rel = () => clock.now() - cluster.startMs;
  const record = (kind: string, data: Record<string, unknown> = {}) =>
    trace.record({ atMs: rel(), kind, ...data });
  const checker = createInvariantChecker(cluster);
  trace.onEvent((event) => checker.observe(event));
  const replicationCounts = new Map<string, number>();
  trace.onEvent((event) => {
    if (event.kind !== 'log') return;
    const counter = REPLICATION_MESSAGES[String(event['message'])];
    if (counter === undefined) return;
    const key = `${String(event['node'])}|${counter}`;
    replicationCounts.set(key, (replicationCounts.get(key) ?? 0) + 1);
  });

  const tasks = new Map<string, TrackedTask>();
  const faults: FaultWindow[] = [];
  const statusHistory = new Map<string, { atMs: number; status: string }[]>();
  const epochStarts: { epoch: number; atMs: number }[] = [];
  const withinSatisfied = new Map<number, number>();
  let currentEpoch = 0;
  let lastProgressWall = 0;
  /** Created by the first `hostile` action; its own seeded Rng keeps the nodes' draws unchanged. */
  let hostile: HostilePeer | undefined;

  /** Tasks are tracked per registry: the same query sent to two registries is two tasks. */
  const taskKey = (registry: string, taskId: string) => `${registry}|${taskId}`;
  const listenForEnds = (registry: SimRegistry) =>
    registry.node.aggregator.onTaskEnded((event) => {
      const task = tasks.get(taskKey(registry.name, event.taskId));
      if (task && task.endedAtMs === undefined) {
        task.endedAtMs = rel();
        task.outcome = event.status;
      }
    });
  for (const registry of cluster.registries) listenForEnds(registry);
  const registryNamed = (name: string) => {
    const registry = cluster.registryByName.get(name);
    if (!registry) throw new Error(`unknown registry ${name}`);
    return registry;
  };
  /** `via` when given, else the first registry that is running (the first one if none is). */
  const pickRegistry = (via: string | undefined) =>
    via === undefined
      ? (cluster.registries.find((registry) => registry.running) ?? cluster.registry)
      : registryNamed(via);

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

  /**
   * A request refused with a Retry-After (NOT_READY while the registry catches up with the
   * chain's epochs) is asked again after it, like a real client, up to this many times; it is
   * only an accepted task once `requestProof` resolved, so the invariants see it from then on.
   */
  const MAX_REQUEST_ATTEMPTS = 15;

  async function requestOnce(
    action: Extract<Action, { kind: 'request' }>,
    attempt = 1,
  ): Promise<void> {
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
    const registry = pickRegistry(action.via);
    try {
      if (!registry.running) throw new Error(`registry ${registry.name} is down`);
      if (action.point.kind === 'block') query.blockNumber = action.point.blockNumber;
      else {
        const head = await chain.getBlockNumber();
        if (action.point.kind === 'latestBlock') query.blockNumber = head;
        else query.timestampSec = (await chain.getBlock(head)).timestampSec;
      }
      const outcome = await registry.node.aggregator.requestProof(query);
      record('request.accepted', {
        taskId: outcome.taskId,
        created: outcome.created,
        ...query,
        ...(cluster.registries.length > 1 ? { via: registry.name } : {}),
      });
      const key = taskKey(registry.name, outcome.taskId);
      if (!tasks.has(key)) {
        const stored = await registry.store.tasks.get(outcome.taskId);
        tasks.set(key, {
          via: registry.name,
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
      if (
        error instanceof ProofRequestError &&
        error.retryAfterSec !== undefined &&
        attempt < MAX_REQUEST_ATTEMPTS
      ) {
        record('request.deferred', {
          ...query,
          ...(cluster.registries.length > 1 ? { via: registry.name } : {}),
          code: error.code,
          attempt,
          retryAfterSec: error.retryAfterSec,
        });
        clock.setTimer(error.retryAfterSec * 1000, () => void requestOnce(action, attempt + 1));
        return;
      }
      record('request.rejected', {
        ...query,
        ...(cluster.registries.length > 1 ? { via: registry.name } : {}),
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
      case 'crash': {
        const registry = cluster.registryByName.get(action.node);
        if (registry) {
          if (registry.running) {
            registry.running = false;
            await registry.node.stop();
            await registry.network.stop();
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
      }
      case 'restart': {
        const registry = cluster.registryByName.get(action.node);
        if (registry) {
          if (!registry.running) {
            await registry.network.start();
            registry.node = cluster.rebuildRegistry(registry);
            listenForEnds(registry);
            await registry.node.start();
            registry.running = true;
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
      }
      case 'partition': {
        const peerOf = (name: string) =>
          cluster.registryByName.get(name)?.network.peerId ?? operatorAddress(name).network.peerId;
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
        cluster.chainReadCache.clear(); // every cached read below the old head may have changed
        faults.push({
          kind: 'reorg',
          targets: [],
          fromMs: rel(),
          toMs: rel(),
          detail: `chain ${action.chainId} depth ${action.depth}`,
        });
        break;
      }
      case 'corruptChainView':
        registryNamed(action.registry).chainView.corruption = {
          weightFactor: action.weightFactor,
          untilMs: clock.now() + action.durationMs,
        };
        faults.push({
          kind: 'chainView',
          targets: [action.registry],
          fromMs: rel(),
          toMs: rel() + action.durationMs,
          detail: `${action.registry}: operator weights ×${action.weightFactor}`,
        });
        break;
      case 'clockSkew': {
        const registry = cluster.registryByName.get(action.node);
        if (registry) registry.skewMs = action.skewMs;
        else operatorAddress(action.node).skewMs = action.skewMs;
        faults.push({
          kind: 'clockSkew',
          targets: [action.node],
          fromMs: rel(),
          detail: `${action.skewMs} ms`,
        });
        break;
      }
      case 'hostile': {
        hostile ??= createHostilePeer({
          net: cluster.net,
          rng: createSeededRng(options.seed * 7919 + 17),
          targets: {
            registries: () => cluster.registries.filter((r) => r.running).map((r) => r.network),
            operators: () =>
              cluster.operators
                .filter((o) => o.running)
                .map((o) => ({ network: o.network, address: o.address })),
            epoch: () => currentEpoch,
            chainId: scenario.chain.stateChainIds[0] ?? scenario.chain.mainChainId,
          },
        });
        const fromMs = rel();
        const outcome = await hostile.attack(action.attack, action.count);
        faults.push({
          kind: 'hostile',
          targets: [],
          fromMs,
          toMs: rel(),
          detail: `${action.attack} ×${action.count}: ${outcome.sent} taken, ${outcome.failed} refused`,
        });
        record('hostile', { attack: action.attack, ...outcome });
        break;
      }
      case 'unsuspend': {
        // The admin lifts the suspension on one registry (the first running one); the others
        // take it from there as a replicated fact.
        const registry =
          cluster.registries.find((candidate) => candidate.running) ?? cluster.registries[0];
        if (registry !== undefined) {
          await unsuspendOperator(
            registry.store,
            operatorAddress(action.operator).address,
            currentEpoch,
          ).catch((error: unknown) => {
            if (cluster.registries.length === 1) throw error;
            record('action.failed', {
              line: step.line,
              registry: registry.name,
              error: String(error),
            });
          });
        }
        checker.resetMisses(operatorAddress(action.operator).address);
        break;
      }
    }
  }

  /**
   * With several registries, lets virtual time run on (1 s steps, at most
   * SETTLE_REPLICATION_MAX_MS) until every running registry shows the same operator counters and
   * statuses: the facts behind them replicate within a few timer ticks.
   */
  async function settleReplication(): Promise<void> {
    if (cluster.registries.length < 2) return;
    const view = async (store: RegistryStore) =>
      JSON.stringify(
        (await cluster.gate.run(() => store.operators.list())).map((op) => [
          op.address,
          op.status,
          op.missing,
          op.successfulResponseCount,
        ]),
      );
    for (let waitedMs = 0; waitedMs <= SETTLE_REPLICATION_MAX_MS; waitedMs += 1_000) {
      const running = cluster.registries.filter((registry) => registry.running);
      const views = new Set<string>();
      for (const registry of running) views.add(await view(registry.store));
      if (views.size <= 1) {
        if (waitedMs > 0) record('replication.settled', { waitedMs });
        return;
      }
      await clock.advanceTo(clock.now() + 1_000);
    }
    record('replication.unsettled', { waitedMs: SETTLE_REPLICATION_MAX_MS });
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

  // Timeline: time steps on timers, epoch steps on block ticks. The harness's own steps (a fault,
  // a block and the invariant checks after it) fire alone, never alongside the nodes' timers.
  const epochSteps = scenario.timeline.filter((s) => s.at.kind === 'epoch');
  for (const step of scenario.timeline) {
    if (step.at.kind === 'time') clock.setExclusiveTimer(step.at.atMs, () => void run(step));
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
    const head = await cluster.mineBlock();
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
    const operators =
      checker.operatorsReadAt(cluster.registry.name) ??
      (await cluster.registry.store.operators.list());
    for (const record of operators) {
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
    clock.setExclusiveTimer(scenario.chain.blockTimeMs, () => void blockTick());
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
        const record = await pickStore(assertion.via).operators.get(
          operatorAddress(assertion.operator).address,
        );
        return {
          description: `${assertion.operator} is ${assertion.status} (${where})`,
          passed: record?.status === assertion.status,
          detail: `status ${record?.status ?? 'unknown'}`,
        };
      }
      case 'operatorCounter': {
        const record = await pickStore(assertion.via).operators.get(
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
      case 'registryStateHashAgree': {
        const views: string[] = [];
        for (const registry of cluster.registries.filter((r) => r.running)) {
          const latest = await registry.store.epochStates.getLatest();
          const hash =
            latest === undefined
              ? 'none'
              : epochStateHash(latest, await registry.store.epochOperators.list(latest.epoch));
          views.push(`${registry.name} epoch ${latest?.epoch ?? '-'} ${hash.slice(0, 10)}`);
        }
        const distinct = new Set(views.map((view) => view.slice(view.indexOf(' ') + 1)));
        return {
          description: `running registries agree on the latest epoch and its state hash (${where})`,
          passed: views.length > 0 && distinct.size === 1 && !views[0]?.endsWith('none'),
          detail: views.join('; '),
        };
      }
      case 'registryCountersAgree': {
        const running = cluster.registries.filter((r) => r.running);
        const views = new Map<string, string[]>();
        for (const registry of running) {
          const view = (await registry.store.operators.list())
            .map((op) => {
              const name = cluster.operators.find((o) => o.address === op.address)?.name;
              return `${name ?? op.address} ${op.status} m${op.missing} s${op.successfulResponseCount}`;
            })
            .join(', ');
          views.set(view, [...(views.get(view) ?? []), registry.name]);
        }
        const [first] = views.keys();
        return {
          description: `running registries show the same operator counters (${where})`,
          passed: running.length > 0 && views.size === 1,
          detail:
            views.size === 1
              ? `${running.map((r) => r.name).join(', ')}: ${first ?? ''}`
              : [...views.entries()]
                  .map(([view, names]) => `${names.join('+')}: ${view}`)
                  .join(' | '),
        };
      }
      case 'registryCounter': {
        const value = replicationCounts.get(`${assertion.registry}|${assertion.counter}`) ?? 0;
        return {
          description: `${assertion.registry} ${assertion.counter} ${assertion.comparison} ${assertion.value} (${where})`,
          passed: compare(value, assertion.comparison, assertion.value),
          detail: `${assertion.counter} = ${value}`,
        };
      }
    }
  }
  function pickStore(via: string | undefined) {
    return (via === undefined ? cluster.registry : registryNamed(via)).store;
  }

  record('run.start', {
    scenario: scenario.name,
    seed: options.seed,
    network: networkMode,
    operators: scenario.operators.length,
  });
  clock.setExclusiveTimer(scenario.chain.blockTimeMs, () => void blockTick());
  let failure: unknown;
  try {
    await clock.advanceTo(cluster.startMs + scenario.durationMs);
  } catch (error) {
    failure = error;
  }

  // Final state: outcomes from the store, invariants, counters, assertions.
  for (const task of tasks.values()) {
    const store = registryNamed(task.via).store;
    const stored = await cluster.gate.run(() => store.tasks.get(task.taskId as Hex));
    if (stored) {
      task.outcome = stored.status;
      task.retries = stored.retries;
      task.epoch = stored.epoch;
      if (stored.status === 'completed') {
        const proof = await cluster.gate.run(() => store.avsResponses.get(task.taskId as Hex));
        task.signers = (proof?.signers ?? []).map(
          (s) => cluster.operators.find((o) => o.address === s.operator)?.name ?? s.operator,
        );
      }
    }
  }
  await checker.check([...tasks.values()]);
  await settleReplication();
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
  if (hostile !== undefined) {
    // What the nodes refused, by `reason channel`, summed over every node (hardening checks).
    const refused: Record<string, number> = {};
    const nodes = [
      ...cluster.registries.map((r) => r.node),
      ...cluster.operators.map((o) => o.node),
    ];
    for (const node of nodes)
      for (const [key, count] of node.guard.counts()) refused[key] = (refused[key] ?? 0) + count;
    record('rejections', refused);
  }
  record('run.end', { epoch: currentEpoch, tasks: tasks.size });
  await hostile?.stop();
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
      ({ taskId, requestedAtMs, endedAtMs, outcome, epoch, retries, signers, via }) => ({
        ...(cluster.registries.length > 1 ? { via } : {}),
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
