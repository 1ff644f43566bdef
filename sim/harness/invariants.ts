import type { Hex } from 'viem';
import { ContractRevertError } from '../../src/chain/errors.ts';
import type { OperatorRecord } from '../../src/core/operator-record.ts';
import type { OperatorStatus } from '../../src/core/operator-status.ts';
import { OPERATOR_TRANSITIONS } from '../../src/core/operator-transitions.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import type { InvariantViolation, TraceEvent } from '../run-result.ts';
import type { SimCluster } from './sim-cluster.ts';
import { createTaskAccounting } from './task-accounting.ts';

/** Behaviours that must never sign a value that differs from the chain. */
const HONEST_KINDS = new Set(['honest', 'slow']);

/** Which statuses can follow `from` through any number of legal transitions. */
function reachable(from: OperatorStatus): Set<OperatorStatus> {
  const seen = new Set<OperatorStatus>();
  const queue: OperatorStatus[] = [from];
  while (queue.length > 0) {
    const status = queue.shift() as OperatorStatus;
    for (const transition of OPERATOR_TRANSITIONS) {
      if (transition.from === status && !seen.has(transition.to)) {
        seen.add(transition.to);
        queue.push(transition.to);
      }
    }
  }
  return seen;
}

export interface TaskRecordForChecks {
  taskId: Hex;
  chainId: number;
  query: { blockNumber?: bigint; timestampSec?: bigint };
  user: `0x${string}`;
  key: bigint;
  /** The registry the task was requested from (default: the first). */
  via?: string;
}

/**
 * The named invariants of SPEC §7, checked after every simulation step against the stores, the
 * chain and a reference model built from the trace:
 * - `legal-transitions`: every status change follows the lifecycle;
 * - `proof-threshold`: no proof below the threshold weight of its epoch;
 * - `proof-valid-on-chain`: every proof passes isValidSignature;
 * - `honest-signs-truth`: no honest operator signs a value that differs from the chain;
 * - `counters-match-model`: missing / successfulResponseCount equal the counts in the trace;
 * - `single-outcome`: a task completes at most once and ends in exactly one final status;
 * - `no-task-lost`: every accepted task is stored, ends once its registry is back up and its
 *   deadline passed, and has its ending logged once, across crashes (`task-accounting.ts`).
 *
 * With several registries the per-task checks run on the store of the registry that collected
 * the task; the counters, replicated as facts, are checked on every running registry against
 * the whole trace (`(task, operator)` misses and proof signers, each counted once).
 */
export function createInvariantChecker(cluster: SimCluster) {
  const lastStatus = new Map<string, OperatorStatus>();
  const checkedTasks = new Set<string>();
  /** Per operator: the tasks it missed on any registry (misses are `(task, operator)` facts). */
  const missesInTrace = new Map<string, Set<string>>();
  /** Per operator: how many of those an admin unsuspend cleared. */
  const missesCleared = new Map<string, number>();
  const completionsInTrace = new Map<string, number>();
  const endsInTrace = new Map<string, number>();
  const violations: InvariantViolation[] = [];
  const nameOf = (address: string) =>
    cluster.operators.find((o) => o.address.toLowerCase() === address.toLowerCase())?.name ??
    address;
  const relativeNow = () => cluster.clock.now() - cluster.startMs;
  const violate = (invariant: string, nodes: string[], detail: string) =>
    violations.push({ invariant, atMs: relativeNow(), nodes, detail });
  const registryNames = new Set(cluster.registries.map((registry) => registry.name));
  const firstRegistry = cluster.registries[0]?.name ?? 'registry';
  const accounting = createTaskAccounting((node) => registryNames.has(node));
  /** Per-registry model keys: `<registry>|<operator or task>`. */
  const at = (registry: string, key: string) => `${registry}|${key.toLowerCase()}`;

  const operatorsRead = new Map<string, readonly OperatorRecord[]>();
  return {
    violations,
    /** An admin unsuspend resets `missing` (core rule): the model forgets earlier misses too. */
    resetMisses(address: string) {
      const key = address.toLowerCase();
      missesCleared.set(key, missesInTrace.get(key)?.size ?? 0);
    },
    /** Feeds the reference model from the trace (aggregator decisions as they were logged). */
    observe(event: TraceEvent) {
      accounting.observe(event);
      const node = String(event['node']);
      if (event.kind !== 'log' || !registryNames.has(node)) return;
      const message = event['message'];
      if (message === 'operator missed') {
        const operator = String(event['operator']).toLowerCase();
        const tasks = missesInTrace.get(operator) ?? new Set<string>();
        tasks.add(String(event['taskId']).toLowerCase());
        missesInTrace.set(operator, tasks);
      } else if (message === 'task completed' && event['firstTime'] !== false) {
        // `firstTime: false`: completeTask found it completed already (a resumed collection,
        // another aggregator): nothing was written or emitted, so it is no second outcome.
        const taskId = String(event['taskId']);
        const key = at(node, taskId);
        completionsInTrace.set(key, (completionsInTrace.get(key) ?? 0) + 1);
        if ((completionsInTrace.get(key) ?? 0) > 1) {
          violate('single-outcome', [node], `task ${taskId} completed twice`);
        }
      }
      if (
        (message === 'task completed' && event['firstTime'] !== false) ||
        message === 'task failed' ||
        message === 'task expired'
      ) {
        const taskId = String(event['taskId']);
        const key = at(node, taskId);
        endsInTrace.set(key, (endsInTrace.get(key) ?? 0) + 1);
        if ((endsInTrace.get(key) ?? 0) > 1) {
          violate('single-outcome', [node], `task ${taskId} ended twice (last: ${message})`);
        }
      }
    },

    async check(tasks: readonly TaskRecordForChecks[]): Promise<void> {
      for (const registry of cluster.registries) {
        await checkTransitions(registry.name, registry.store);
      }
      for (const task of tasks) {
        const via = task.via ?? firstRegistry;
        const key = at(via, task.taskId);
        if (checkedTasks.has(key)) continue;
        const store = cluster.registryByName.get(via)?.store;
        if (store === undefined) continue;
        if (await checkTask(via, store, task)) checkedTasks.add(key);
      }
      const lost = await accounting.check(
        tasks.map((task) => ({ taskId: task.taskId, registry: task.via ?? firstRegistry })),
        {
          storedTask: async (registry, taskId) =>
            cluster.registryByName.get(registry)?.store.tasks.get(taskId),
          nowMs: () => cluster.clock.now(),
          startMs: cluster.startMs,
        },
      );
      violations.push(...lost);
    },

    /** The operators `check` last read from `registry`'s store (the harness reuses them). */
    operatorsReadAt(registry: string): readonly OperatorRecord[] | undefined {
      return operatorsRead.get(registry);
    },

    /**
     * The counters in each running registry's store against the reference model (called at the
     * end, when quiet and the registries' facts converged): misses and successes are facts
     * replicated between registries, so every registry must show the counts of the whole trace.
     */
    async checkCounters(): Promise<void> {
      const successes = await successesInProofs();
      for (const registry of cluster.registries) {
        if (!registry.running) continue;
        await checkRegistryCounters(registry.store, successes);
      }
    },
  };

  async function checkTransitions(registry: string, store: RegistryStore): Promise<void> {
    const operators = await store.operators.list();
    operatorsRead.set(registry, operators);
    for (const record of operators) {
      const key = at(registry, record.address);
      const previous = lastStatus.get(key);
      if (
        previous !== undefined &&
        previous !== record.status &&
        !reachable(previous).has(record.status)
      ) {
        violate(
          'legal-transitions',
          [nameOf(record.address)],
          `${previous} → ${record.status} is not a legal transition`,
        );
      }
      lastStatus.set(key, record.status);
    }
  }

  /** Checks one task once it completed; false: check it again later. */
  async function checkTask(
    registry: string,
    store: RegistryStore,
    task: TaskRecordForChecks,
  ): Promise<boolean> {
    const stored = await store.tasks.get(task.taskId);
    if (stored?.status !== 'completed') return false;
    const proof = await store.avsResponses.get(task.taskId);
    const epochState = await store.epochStates.get(stored.epoch);
    if (!proof || !epochState) {
      violate(
        'proof-valid-on-chain',
        [registry],
        `completed task ${task.taskId} has no stored proof or epoch`,
      );
      return true;
    }
    if (proof.signedWeightWei < epochState.thresholdWeightWei) {
      violate(
        'proof-threshold',
        [registry],
        `task ${task.taskId}: signed ${proof.signedWeightWei} < threshold ${epochState.thresholdWeightWei}`,
      );
    }
    try {
      await cluster.chains.main.verifySignatureSet({
        digest: task.taskId,
        signatureData: proof.signatureData,
      });
    } catch (error) {
      const reason = error instanceof ContractRevertError ? error.errorName : String(error);
      if (String(error).includes('injected fault')) return false; // again after the fault
      violate(
        'proof-valid-on-chain',
        [registry],
        `task ${task.taskId}: isValidSignature reverted ${reason}`,
      );
      return true;
    }
    const chain = cluster.testbed.chains.state(task.chainId);
    const entry =
      task.query.timestampSec === undefined
        ? await cluster.gate.run(() =>
            chain.getHistoryAtBlock({
              user: task.user,
              key: task.key,
              blockNumber: task.query.blockNumber ?? 0n,
            }),
          )
        : await cluster.gate.run(() =>
            chain.getHistoryAtTimestamp({
              user: task.user,
              key: task.key,
              timestampSec: task.query.timestampSec ?? 0n,
            }),
          );
    if (entry.value !== stored.value) {
      const honestSigners = proof.signers
        .map((signer) =>
          cluster.operators.find((o) => o.address.toLowerCase() === signer.operator.toLowerCase()),
        )
        .filter((o) => o !== undefined && HONEST_KINDS.has(o.behaviour.current.spec.kind))
        .map((o) => o?.name ?? '');
      violate(
        'honest-signs-truth',
        honestSigners,
        `task ${task.taskId} proves value ${stored.value} but the chain holds ${entry.value}`,
      );
    }
    return true;
  }

  /** Per operator: the tasks whose proof (stored by the registry that collected it) it signed. */
  async function successesInProofs(): Promise<Map<string, Set<string>>> {
    const successes = new Map<string, Set<string>>();
    for (const key of checkedTasks) {
      const [owner, taskId] = key.split('|');
      const store = cluster.registryByName.get(owner ?? '')?.store;
      if (store === undefined) continue;
      const proof = await store.avsResponses.get(taskId as Hex);
      for (const signer of proof?.signers ?? []) {
        const operator = signer.operator.toLowerCase();
        const tasks = successes.get(operator) ?? new Set<string>();
        tasks.add(String(taskId).toLowerCase());
        successes.set(operator, tasks);
      }
    }
    return successes;
  }

  async function checkRegistryCounters(
    store: RegistryStore,
    successes: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<void> {
    for (const record of await store.operators.list()) {
      const key = record.address.toLowerCase();
      const misses = Math.max(
        0,
        (missesInTrace.get(key)?.size ?? 0) - (missesCleared.get(key) ?? 0),
      );
      if (record.missing !== misses) {
        violate(
          'counters-match-model',
          [nameOf(record.address)],
          `missing = ${record.missing}, the trace has ${misses} misses`,
        );
      }
      const expected = successes.get(key)?.size ?? 0;
      if (record.successfulResponseCount !== expected) {
        violate(
          'counters-match-model',
          [nameOf(record.address)],
          `successfulResponseCount = ${record.successfulResponseCount}, completed proofs hold ${expected} of its signatures`,
        );
      }
    }
  }
}
