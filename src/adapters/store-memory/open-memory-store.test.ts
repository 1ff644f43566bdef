import { describe, expect, test } from 'vitest';
import { StoreQueryError, StoreUnavailableError } from '../../store/errors.ts';
import type { OperatorRepositories } from '../../store/operator/operator-store.ts';
import { createMemoryStoreDatabase, openMemoryOperatorStore } from './open-memory-store.ts';

const clock = { now: () => 1_700_000_000_000 };
const taskId = `0x${'01'.repeat(32)}` as const;

describe('openMemoryOperatorStore', () => {
  test('behavior: a closed store refuses calls as unavailable; another store on the same data still works', async () => {
    const database = createMemoryStoreDatabase();
    const store = await openMemoryOperatorStore({ database, clock }, { schema: 'node_1' });
    const other = await openMemoryOperatorStore({ database, clock }, { schema: 'node_1' });
    await store.close();
    await expect(store.tasks.get(taskId)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.transaction(async () => 1)).rejects.toThrow('the store is closed');
    expect(await other.tasks.get(taskId)).toBeUndefined();
  });

  test('behavior: a transaction handle kept past its transaction refuses calls', async () => {
    const store = await openMemoryOperatorStore(
      { database: createMemoryStoreDatabase(), clock },
      { schema: 'node_1' },
    );
    let kept: OperatorRepositories | undefined;
    await store.transaction(async (tx) => {
      kept = tx;
    });
    await expect(kept?.tasks.get(taskId)).rejects.toBeInstanceOf(StoreQueryError);
  });

  test('behavior: onQuery hears of every call that reached the tables, failed or not, and of no rejected input', async () => {
    const events: { sql: string; failed: boolean }[] = [];
    const store = await openMemoryOperatorStore(
      { database: createMemoryStoreDatabase(), clock },
      { schema: 'node_1', onQuery: (event) => events.push(event) },
    );
    await store.tasks.get(taskId);
    await expect(store.tasks.setStatus(taskId, 'failed')).rejects.toThrow('no task');
    await expect(store.tasks.get('0x12')).rejects.toThrow('taskId');
    expect(events).toEqual([
      { sql: 'memory: tasks.get', durationMs: 0, failed: false },
      { sql: 'memory: tasks.setStatus', durationMs: 0, failed: true },
    ]);
  });

  test('behavior: a bad schema name is refused like on SQL', async () => {
    await expect(
      openMemoryOperatorStore(
        { database: createMemoryStoreDatabase(), clock },
        { schema: 'Node 1' },
      ),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'schema' });
  });
});
