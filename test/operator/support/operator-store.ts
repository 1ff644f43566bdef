import type { PGlite } from '@electric-sql/pglite';
import {
  createPglite,
  openPgliteOperatorStore,
} from '../../../src/adapters/store-pglite/open-pglite-store.ts';
import type { Clock } from '../../../src/ports/clock.ts';
import type { OperatorStore } from '../../../src/store/operator/operator-store.ts';

/**
 * One PGlite per test file (creating one takes seconds), one fresh schema per store (opening one
 * takes milliseconds).
 */
export interface OperatorStoreFixture {
  open(clock: Clock): Promise<OperatorStore>;
  close(): Promise<void>;
}

let schemaCounter = 0;

export function operatorStoreFixture(): OperatorStoreFixture {
  let pglite: Promise<PGlite> | undefined;
  const opened: OperatorStore[] = [];
  return {
    async open(clock) {
      pglite ??= createPglite();
      schemaCounter += 1;
      const store = await openPgliteOperatorStore(
        { pglite: await pglite, clock },
        { schema: `operator_${process.pid}_${schemaCounter}` },
      );
      opened.push(store);
      return store;
    },
    async close() {
      for (const store of opened.splice(0)) await store.close();
      if (pglite !== undefined) await (await pglite).close();
      pglite = undefined;
    },
  };
}
