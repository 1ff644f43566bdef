import { describe, expect, test } from 'vitest';
import { StoreInputError } from '../../../src/store/errors.ts';
import type { OperatorFact } from '../../../src/store/registry/operator-facts.ts';
import type { RegistryStore } from '../../../src/store/registry/registry-store.ts';
import type { ComplianceContext } from '../compliance.ts';
import { address, bytes32, epochState, registration } from '../harness.ts';

const SUSPEND = { suspendAtMisses: 5 };
const missed = (n: number, task: number): OperatorFact => ({
  kind: 'missed',
  operator: address(n),
  taskId: bytes32(task),
});
const succeeded = (n: number, task: number): OperatorFact => ({
  kind: 'succeeded',
  operator: address(n),
  taskId: bytes32(task),
});

async function withActiveOperators(store: RegistryStore): Promise<void> {
  for (const n of [1, 2]) await store.operators.upsert(registration(n, { status: 'active' }));
  await store.applyEpochAdvance({
    epochState: epochState(1),
    operatorUpdates: [],
    epochOperators: [],
  });
}

/** The replicated off-chain facts (operatorFacts) and the counters derived from them. */
export function describeOperatorFacts(context: ComplianceContext): void {
  describe('operatorFacts', () => {
    test('behavior: merging is a set union: the same facts again, or reordered, change nothing', async () => {
      const { store } = await context.openRegistry();
      await withActiveOperators(store);
      const facts = [missed(1, 1), missed(1, 2), succeeded(1, 3), succeeded(2, 3)];
      expect((await store.operatorFacts.merge(facts, SUSPEND)).added).toBe(4);
      expect((await store.operatorFacts.merge([...facts].reverse(), SUSPEND)).added).toBe(0);
      expect(await store.operators.get(address(1))).toMatchObject({
        missing: 2,
        successfulResponseCount: 1,
        status: 'active',
      });
      expect(await store.operatorFacts.latestSeq()).toBeGreaterThan(0);
      const page = await store.operatorFacts.listAfter(0, 2);
      expect(page.map((stored) => stored.fact)).toEqual([missed(1, 1), missed(1, 2)]);
      const rest = await store.operatorFacts.listAfter(page[1]?.seq ?? 0, 10);
      expect(rest.map((stored) => stored.fact)).toEqual([succeeded(1, 3), succeeded(2, 3)]);
    });

    test('behavior: totals count each stored fact of an operator once, by kind, with its largest misses cleared', async () => {
      const { store } = await context.openRegistry();
      await withActiveOperators(store);
      expect(await store.operatorFacts.totals(address(1))).toEqual({
        misses: 0,
        successes: 0,
        unsuspends: 0,
        missesCleared: 0,
      });
      const unsuspended = (missesCleared: number): OperatorFact => ({
        kind: 'unsuspended',
        operator: address(1),
        missesCleared,
      });
      await store.operatorFacts.merge(
        [missed(1, 1), missed(1, 2), succeeded(1, 3), unsuspended(2), succeeded(2, 3)],
        SUSPEND,
      );
      await store.operatorFacts.merge([missed(1, 2), missed(1, 4), unsuspended(1)], SUSPEND);
      const totals = await store.operatorFacts.totals(address(1));
      expect(totals).toEqual({ misses: 3, successes: 1, unsuspends: 2, missesCleared: 2 });
      const stored = (await store.operatorFacts.listByOperator(address(1))).map((s) => s.fact);
      expect(stored.filter((fact) => fact.kind === 'missed')).toHaveLength(totals.misses);
      expect((await store.operatorFacts.totals(address(2))).successes).toBe(1);
      // Facts about an operator not stored yet are totalled too.
      await store.operatorFacts.merge([missed(9, 1)], SUSPEND);
      expect((await store.operatorFacts.totals(address(9))).misses).toBe(1);
    });

    test('behavior: two stores merging the same facts in different orders derive the same counters and status', async () => {
      const a = (await context.openRegistry()).store;
      const b = (await context.openRegistry()).store;
      await withActiveOperators(a);
      await withActiveOperators(b);
      const misses = [1, 2, 3, 4, 5, 6].map((task) => missed(1, task));
      const unsuspend: OperatorFact = {
        kind: 'unsuspended',
        operator: address(1),
        missesCleared: 5,
      };
      const later = missed(1, 7);
      // a: misses, then the unsuspend, then one more miss; b: everything in reverse.
      const first = await a.operatorFacts.merge(misses.slice(0, 5), SUSPEND);
      expect(first.changed.map((record) => record.status)).toEqual(['suspended']);
      await a.operatorFacts.merge([unsuspend], SUSPEND);
      await a.operatorFacts.merge([misses[5] as OperatorFact, later], SUSPEND);
      await b.operatorFacts.merge([later, unsuspend], SUSPEND);
      await b.operatorFacts.merge([...misses].reverse(), SUSPEND);
      const fields = (store: RegistryStore) =>
        store.operators
          .get(address(1))
          .then((record) => [record?.status, record?.missing, record?.statusBeforeSuspension]);
      expect(await fields(a)).toEqual(['active', 2, null]);
      expect(await fields(b)).toEqual(await fields(a));
    });

    test('behavior: recordMiss stores a (task, operator) fact: the same task missed twice counts once', async () => {
      const { store } = await context.openRegistry();
      await withActiveOperators(store);
      await store.operators.recordMiss(address(1), { suspendAtMisses: 5, taskId: bytes32(9) });
      const again = await store.operators.recordMiss(address(1), {
        suspendAtMisses: 5,
        taskId: bytes32(9),
      });
      expect(again.operator.missing).toBe(1);
      expect(await store.operatorFacts.listByOperator(address(1))).toMatchObject([
        { fact: missed(1, 9) },
      ]);
    });

    test('behavior: facts about an operator not stored yet are kept, and counted once it is', async () => {
      const { store } = await context.openRegistry();
      await withActiveOperators(store);
      expect((await store.operatorFacts.merge([missed(3, 1)], SUSPEND)).added).toBe(1);
      expect(await store.operators.get(address(3))).toBeUndefined();
      expect((await store.operators.upsert(registration(3, { status: 'active' }))).missing).toBe(1);
      await store.operatorFacts.merge([missed(3, 2)], SUSPEND);
      expect((await store.operators.get(address(3)))?.missing).toBe(2);
    });

    test('validation: a fact with a bad kind, task id or count is refused, naming the field', async () => {
      const { store } = await context.openRegistry();
      const bad = [
        [{ kind: 'voted', operator: address(1), taskId: bytes32(1) }, 'facts[0].kind'],
        [{ kind: 'missed', operator: address(1), taskId: '0x12' }, 'facts[0].taskId'],
        [
          { kind: 'unsuspended', operator: address(1), missesCleared: -1 },
          'facts[0].missesCleared',
        ],
        [{ kind: 'missed', operator: 'nope', taskId: bytes32(1) }, 'facts[0].operator'],
      ] as const;
      for (const [fact, field] of bad) {
        const error = await store.operatorFacts
          .merge([fact as unknown as OperatorFact], SUSPEND)
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreInputError);
        expect(String(error)).toContain(field);
      }
    });
  });
}
