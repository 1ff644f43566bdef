import type { PGlite } from '@electric-sql/pglite';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { checkInvariants, quiescent } from './support/invariants.ts';
import { type CallEvent, createRig, makeOperators } from './support/rig.ts';

/**
 * The aggregator buffers operators' answers and stores them in batches (one
 * `operatorResponses.recordMany` per round or completion) instead of one store call per answer.
 * Virtual time; PGlite; four operators of equal weight (three signatures reach the threshold).
 */
const E18 = 10n ** 18n;
let pglite: PGlite;
let store: RegistryStore | undefined;

beforeAll(async () => {
  pglite = await createPglite();
}, 60_000);

afterAll(async () => {
  await store?.close();
  await pglite?.close();
});

describe('answers stored in batches', () => {
  test('behavior: a completed task stores all its answers in at most two calls, the signers’ before the completion', async () => {
    const calls: string[] = [];
    const rig = await createRig({
      openStore: async (clock) => {
        store = await openPgliteRegistryStore({ pglite, clock }, { schema: 'batching' });
        return store;
      },
      operators: makeOperators([E18, E18, E18, E18]),
    });
    const node = await rig.start('A', {
      onCall: (event: CallEvent) => {
        if (event.phase === 'before' && event.path.includes('operatorResponses')) {
          calls.push(event.path);
        }
      },
    });
    const taskIds: Hex[] = [];
    for (const key of [1, 2, 3]) taskIds.push((await node.request(rig.query(key))).taskId);
    await rig.runUntil(() => quiescent(rig, taskIds), 'the tasks settled');
    await checkInvariants({ rig, requested: taskIds.map((taskId) => ({ taskId })) });

    for (const taskId of taskIds) {
      expect((await rig.store.tasks.get(taskId))?.status).toBe('completed');
      // Every answer is stored, the ones that came after the completion too.
      expect(await rig.store.operatorResponses.listByTask(taskId)).toHaveLength(4);
    }
    expect(calls.filter((path) => path.endsWith('operatorResponses.record'))).toEqual([]);
    expect(calls.filter((path) => path.startsWith('tx.'))).toEqual([]);
    expect(calls.length).toBeLessThanOrEqual(2 * taskIds.length);
  });
});
