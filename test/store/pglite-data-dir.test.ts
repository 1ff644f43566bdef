import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  createPglite,
  openPgliteRegistryStore,
} from '../../src/adapters/store-pglite/open-pglite-store.ts';
import { address, createManualClock, registration, UINT256_MAX } from './harness.ts';

describe('PGlite data directory', () => {
  test('behavior: stores in a data directory survive closing and reopening the database', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'spotted-pglite-'));
    try {
      const clock = createManualClock();
      const first = await createPglite({ dataDir });
      const store = await openPgliteRegistryStore({ pglite: first, clock }, { schema: 'registry' });
      await store.operators.upsert(registration(1, { weightWei: UINT256_MAX }));
      await store.close();
      await first.close();

      const second = await createPglite({ dataDir });
      const reopened = await openPgliteRegistryStore(
        { pglite: second, clock },
        { schema: 'registry' },
      );
      expect(reopened.migrations).toEqual({ applied: [], alreadyApplied: [1, 2, 3, 4, 5] });
      expect((await reopened.operators.get(address(1)))?.weightWei).toBe(UINT256_MAX);
      await reopened.close();
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
