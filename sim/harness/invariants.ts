import type { Hex } from 'viem';
import { ContractRevertError } from '../../src/chain/errors.ts';
import type { OperatorStatus } from '../../src/core/operator-status.ts';
import { OPERATOR_TRANSITIONS } from '../../src/core/operator-transitions.ts';
import type { InvariantViolation, TraceEvent } from '../run-result.ts';
import type { SimCluster } from './sim-cluster.ts';

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
}

/**
 * The named invariants of SPEC §7, checked after every simulation step against the stores, the
 * chain and a reference model built from the trace:
 * - `legal-transitions`: every status change follows the lifecycle;
 * - `proof-threshold`: no proof below the threshold weight of its epoch;
 * - `proof-valid-on-chain`: every proof passes isValidSignature;
 * - `honest-signs-truth`: no honest operator signs a value that differs from the chain;
 * - `counters-match-model`: missing / successfulResponseCount equal the counts in the trace;
 * - `single-outcome`: a task completes at most once and ends in exactly one final status.
 */
export function createInvariantChecker(cluster: SimCluster) {
  const lastStatus = new Map<string, OperatorStatus>();
  const checkedTasks = new Set<string>();
  const missesInTrace = new Map<string, number>();
  const completionsInTrace = new Map<string, number>();
  const endsInTrace = new Map<string, number>();
  const violations: InvariantViolation[] = [];
  const nameOf = (address: string) =>
    cluster.operators.find((o) => o.address.toLowerCase() === address.toLowerCase())?.name ??
    address;
  const relativeNow = () => cluster.clock.now() - cluster.startMs;
  const violate = (invariant: string, nodes: string[], detail: string) =>
    violations.push({ invariant, atMs: relativeNow(), nodes, detail });

  return {
    violations,
    /** An admin unsuspend resets `missing` (core rule): the model forgets earlier misses too. */
    resetMisses(address: string) {
      missesInTrace.delete(address.toLowerCase());
    },
    /** Feeds the reference model from the trace (aggregator decisions as they were logged). */
    observe(event: TraceEvent) {
      if (event.kind !== 'log' || event['node'] !== 'registry') return;
      const message = event['message'];
      if (message === 'operator missed') {
        const operator = String(event['operator']).toLowerCase();
        missesInTrace.set(operator, (missesInTrace.get(operator) ?? 0) + 1);
      } else if (message === 'task completed') {
        const taskId = String(event['taskId']);
        completionsInTrace.set(taskId, (completionsInTrace.get(taskId) ?? 0) + 1);
        if ((completionsInTrace.get(taskId) ?? 0) > 1) {
          violate('single-outcome', ['registry'], `task ${taskId} completed twice`);
        }
      }
      if (message === 'task completed' || message === 'task failed' || message === 'task expired') {
        const taskId = String(event['taskId']);
        endsInTrace.set(taskId, (endsInTrace.get(taskId) ?? 0) + 1);
        if ((endsInTrace.get(taskId) ?? 0) > 1) {
          violate('single-outcome', ['registry'], `task ${taskId} ended twice (last: ${message})`);
        }
      }
    },

    async check(tasks: readonly TaskRecordForChecks[]): Promise<void> {
      const store = cluster.registry.store;
      const operators = await store.operators.list();
      for (const record of operators) {
        const key = record.address.toLowerCase();
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

      for (const task of tasks) {
        if (checkedTasks.has(task.taskId)) continue;
        const stored = await store.tasks.get(task.taskId);
        if (stored?.status !== 'completed') continue;
        checkedTasks.add(task.taskId);
        const proof = await store.avsResponses.get(task.taskId);
        const epochState = await store.epochStates.get(stored.epoch);
        if (!proof || !epochState) {
          violate(
            'proof-valid-on-chain',
            ['registry'],
            `completed task ${task.taskId} has no stored proof or epoch`,
          );
          continue;
        }
        if (proof.signedWeightWei < epochState.thresholdWeightWei) {
          violate(
            'proof-threshold',
            ['registry'],
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
          if (!String(error).includes('injected fault')) {
            violate(
              'proof-valid-on-chain',
              ['registry'],
              `task ${task.taskId}: isValidSignature reverted ${reason}`,
            );
          } else {
            checkedTasks.delete(task.taskId); // check again once the RPC fault is over
          }
          continue;
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
              cluster.operators.find(
                (o) => o.address.toLowerCase() === signer.operator.toLowerCase(),
              ),
            )
            .filter((o) => o !== undefined && HONEST_KINDS.has(o.behaviour.current.spec.kind))
            .map((o) => o?.name ?? '');
          violate(
            'honest-signs-truth',
            honestSigners,
            `task ${task.taskId} proves value ${stored.value} but the chain holds ${entry.value}`,
          );
        }
      }
    },

    /** The counters in the store against the reference model (called at the end, when quiet). */
    async checkCounters(): Promise<void> {
      const store = cluster.registry.store;
      const successes = new Map<string, number>();
      for (const taskId of checkedTasks) {
        const proof = await store.avsResponses.get(taskId as Hex);
        for (const signer of proof?.signers ?? []) {
          const key = signer.operator.toLowerCase();
          successes.set(key, (successes.get(key) ?? 0) + 1);
        }
      }
      for (const record of await store.operators.list()) {
        const key = record.address.toLowerCase();
        const misses = missesInTrace.get(key) ?? 0;
        if (record.missing !== misses) {
          violate(
            'counters-match-model',
            [nameOf(record.address)],
            `missing = ${record.missing}, the trace has ${misses} misses`,
          );
        }
        const expected = successes.get(key) ?? 0;
        if (record.successfulResponseCount !== expected) {
          violate(
            'counters-match-model',
            [nameOf(record.address)],
            `successfulResponseCount = ${record.successfulResponseCount}, completed proofs hold ${expected} of its signatures`,
          );
        }
      }
    },
  };
}
