import type { Hex } from 'viem';
import { expect } from 'vitest';
import type { DeliveryRequest } from '../../../src/aggregator/aggregator.ts';
import { quiescent, type RequestedTask } from './invariants.ts';
import type { CallEvent, Incarnation, Life, Rig } from './rig.ts';

/** Kills the node at the `occurrence`-th call matching `matches` (before or after it). */
export function crashAt(
  matches: (event: CallEvent) => boolean,
  occurrence = 1,
): (event: CallEvent, life: Life) => void {
  let seen = 0;
  return (event, life) => {
    if (!matches(event)) return;
    seen += 1;
    if (seen === occurrence) life.kill();
  };
}

export const at = (path: string, phase: CallEvent['phase']) => (event: CallEvent) =>
  event.path === path && event.phase === phase;

/** Kills the node right after the transaction that holds `innerPath` committed. */
export function afterCommitOf(innerPath: string): (event: CallEvent, life: Life) => void {
  let armed = false;
  return (event, life) => {
    if (event.path === innerPath && event.phase === 'before') armed = true;
    if (armed && event.path === 'transaction' && event.phase === 'after') life.kill();
  };
}

/**
 * Runs requests for `keys` through nodes that are killed as `crashes` say (one hook per node
 * run), then one node that is not, until everything is quiet. A client retries a request
 * until a node accepted it (requestProof resolved), as an HTTP client retries a failed POST.
 */
export async function runThroughCrashes(
  rig: Rig,
  keys: readonly number[],
  crashes: readonly ((event: CallEvent, life: Life) => void)[],
  options: { restartAfterMs?: number; deliveries: DeliveryRequest },
): Promise<{ requested: RequestedTask[]; lives: Incarnation[] }> {
  const { deliveries } = options;
  const accepted = new Map<number, Hex>();
  const lives: Incarnation[] = [];
  for (const crash of [...crashes, undefined]) {
    const node = await rig.start('A', crash ? { onCall: crash } : {});
    lives.push(node);
    for (const key of keys) {
      if (accepted.has(key) || node.life.killed) continue;
      try {
        const outcome = await node.request(rig.query(key), deliveries);
        accepted.set(key, outcome.taskId);
      } catch (error) {
        if ((error as { code?: string }).code !== 'NODE_KILLED') throw error;
      }
    }
    if (crash) {
      // Until the crash point; a node that got past all its work without reaching it dies idle.
      await rig.runUntil(
        async () =>
          node.life.killed ||
          (accepted.size === keys.length && (await quiescent(rig, [...accepted.values()]))),
        'the crash point',
        60_000,
      );
      node.life.kill();
      await rig.advance(options.restartAfterMs ?? 500);
    }
  }
  const taskIds = [...accepted.values()];
  expect(taskIds).toHaveLength(keys.length);
  await rig.runUntil(() => quiescent(rig, taskIds), 'every task and delivery settled', 60_000);
  return {
    requested: taskIds.map((taskId) => ({ taskId, ...deliveries })),
    lives,
  };
}
