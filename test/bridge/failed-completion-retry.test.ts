import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { checkInvariants, quiescent } from './support/invariants.ts';
import { createRig, makeOperators } from './support/rig.ts';

/**
 * A step of a live task that throws (here the completion's transaction, as on a dropped database
 * connection) must not leave the task stuck: the reducer already says `completed` in memory while
 * the store still says pending, and no timer is left to move it. The collection is given back to
 * the queue and taken up again from the store. Virtual time; PGlite; three operators of equal
 * weight; rounds of 1 s, expiry 15 s.
 */
const E18 = 10n ** 18n;
let pglite: PGlite;
const stores: RegistryStore[] = [];

beforeAll(async () => {
  pglite = await createPglite();
}, 60_000);

afterAll(async () => {
  for (const store of stores) await store.close();
  await pglite?.close();
});

/** `store` whose first `completeTask` (inside a transaction) fails like a lost connection. */
function failingFirstCompletion(store: RegistryStore): {
  store: RegistryStore;
  failures: () => number;
} {
  let failures = 0;
  const wrapped: RegistryStore = Object.create(store, {
    transaction: {
      configurable: true,
      writable: true,
      value: <T>(work: Parameters<RegistryStore['transaction']>[0]) =>
        store.transaction((tx) =>
          work(
            Object.create(tx, {
              completeTask: {
                configurable: true,
                writable: true,
                value: async (...args: Parameters<typeof tx.completeTask>) => {
                  if (failures === 0) {
                    failures += 1;
                    throw new Error('connection terminated unexpectedly');
                  }
                  return tx.completeTask(...args);
                },
              },
            }),
          ),
        ) as Promise<T>,
    },
  });
  return { store: wrapped, failures: () => failures };
}

describe('a failed step of a live task', () => {
  test('behavior: a completion whose transaction fails is retried through the queue and the task completes once', async () => {
    const rig = await createRig({
      openStore: async (clock) => {
        const store = await openPgliteRegistryStore(
          { pglite, clock },
          { schema: `failed_step_${process.pid}` },
        );
        stores.push(store);
        return store;
      },
      operators: makeOperators([E18, E18, E18]),
    });
    const failing = failingFirstCompletion(rig.store);
    const node = await rig.start('A', { store: failing.store });
    const { taskId } = await node.request(rig.query(1));
    await rig.runUntil(() => quiescent(rig, [taskId]), 'the task settled');
    expect(failing.failures()).toBe(1);
    await checkInvariants({ rig, requested: [{ taskId }] });
    expect(rig.ended).toEqual([{ taskId, status: 'completed', life: 1 }]);
    expect(node.aggregator.liveTaskCount()).toBe(0);
    expect(
      rig.log.entries.some(
        (e) => e.message === 'task step failed; its collection is given back to be taken up again',
      ),
    ).toBe(true);
  });
});
