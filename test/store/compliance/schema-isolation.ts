import { describe, expect, test } from 'vitest';
import type { ComplianceContext } from '../compliance.ts';
import { address, registration, task, UINT256_MAX } from '../harness.ts';

export function describeSchemaIsolation(context: ComplianceContext): void {
  describe('schema isolation', () => {
    test("behavior: two registry stores in different schemas never see each other's rows", async () => {
      const a = (await context.openRegistry()).store;
      const b = (await context.openRegistry()).store;
      await a.operators.upsert(registration(1, { weightWei: 7n }));
      await b.operators.upsert(registration(1, { weightWei: UINT256_MAX, status: 'active' }));
      await b.operators.upsert(registration(2));
      await a.tasks.create(task(1));

      expect((await a.operators.get(address(1)))?.weightWei).toBe(7n);
      expect((await b.operators.get(address(1)))?.weightWei).toBe(UINT256_MAX);
      expect(await a.operators.list()).toHaveLength(1);
      expect(await b.operators.list()).toHaveLength(2);
      expect(await b.tasks.get(task(1).taskId)).toBeUndefined();
      expect((await a.operators.countByStatus()).active).toBe(0);
    });

    test('behavior: registry and operator stores coexist, each with its own tasks table', async () => {
      const registry = (await context.openRegistry()).store;
      const operator = (await context.openOperator()).store;
      await registry.tasks.create(task(1));
      await operator.tasks.create(task(2));
      expect(await registry.tasks.get(task(2).taskId)).toBeUndefined();
      expect(await operator.tasks.get(task(1).taskId)).toBeUndefined();
    });

    test('behavior: concurrent work on many stores, including a failing transaction, stays separate', async () => {
      const stores = await Promise.all([1, 2, 3, 4].map(() => context.openRegistry()));
      const failure = new Error('injected failure');
      const outcomes = await Promise.allSettled(
        stores.map(({ store }, index) =>
          store.transaction(async (tx) => {
            for (const n of [1, 2, 3])
              await tx.operators.upsert(registration(n, { weightWei: BigInt(index) }));
            await tx.tasks.create(task(index));
            if (index === 0) throw failure;
          }),
        ),
      );
      expect(outcomes[0]).toEqual({ status: 'rejected', reason: failure });
      expect(outcomes.slice(1).every((outcome) => outcome.status === 'fulfilled')).toBe(true);

      expect(await stores[0]?.store.operators.list()).toEqual([]);
      for (const [index, { store }] of stores.entries()) {
        if (index === 0) continue;
        const operators = await store.operators.list();
        expect(operators.map((operator) => operator.weightWei)).toEqual([
          BigInt(index),
          BigInt(index),
          BigInt(index),
        ]);
        expect(await store.tasks.listByStatus('pending', { limit: 10 })).toHaveLength(1);
      }
    });
  });
}
