import { afterAll, beforeAll, describe } from 'vitest';
import type { OperatorStore } from '../../src/store/operator/operator-store.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { describeEpochAdvance } from './compliance/epoch-advance.ts';
import { describeExactNumbers } from './compliance/exact-numbers.ts';
import { describeInputValidation } from './compliance/input-validation.ts';
import { describeMigrations } from './compliance/migrations.ts';
import { describeOperatorFacts } from './compliance/operator-facts.ts';
import { describeOperatorRepositories } from './compliance/operator-repositories.ts';
import { describeQueue } from './compliance/queue.ts';
import { describeRegistryRepositories } from './compliance/registry-repositories.ts';
import { describeSchemaIsolation } from './compliance/schema-isolation.ts';
import {
  createManualClock,
  freshSchema,
  type ManualClock,
  type StoreHarness,
  type StoreHarnessFactory,
} from './harness.ts';

export interface OpenedStore<S> {
  store: S;
  clock: ManualClock;
  schema: string;
}

export interface StoreOpenOptions {
  schema?: string;
  clock?: ManualClock;
  onQuery?: () => void;
}

/** What each compliance section gets: the harness and openers that close what they open. */
export interface ComplianceContext {
  harness(): StoreHarness;
  openRegistry(options?: StoreOpenOptions): Promise<OpenedStore<RegistryStore>>;
  openOperator(options?: StoreOpenOptions): Promise<OpenedStore<OperatorStore>>;
}

/**
 * The Store compliance suite (STYLE: js-libp2p interface-compliance-tests): every adapter runs
 * exactly these tests, so node code can rely on the port alone.
 */
export function describeStoreCompliance(name: string, createHarness: StoreHarnessFactory): void {
  describe(`Store compliance: ${name}`, () => {
    let harness: StoreHarness | undefined;
    const opened: { close(): Promise<void> }[] = [];

    beforeAll(async () => {
      harness = await createHarness();
    });

    afterAll(async () => {
      for (const store of opened) await store.close();
      await harness?.close();
    });

    const requireHarness = (): StoreHarness => {
      if (!harness) throw new Error(`the ${name} harness failed to start; see the beforeAll error`);
      return harness;
    };

    const context: ComplianceContext = {
      harness: requireHarness,
      async openRegistry(options = {}) {
        const clock = options.clock ?? createManualClock();
        const schema = options.schema ?? freshSchema('registry');
        const store = await requireHarness().openRegistryStore(
          { clock },
          { schema, ...(options.onQuery ? { onQuery: options.onQuery } : {}) },
        );
        opened.push(store);
        return { store, clock, schema };
      },
      async openOperator(options = {}) {
        const clock = options.clock ?? createManualClock();
        const schema = options.schema ?? freshSchema('operator');
        const store = await requireHarness().openOperatorStore(
          { clock },
          { schema, ...(options.onQuery ? { onQuery: options.onQuery } : {}) },
        );
        opened.push(store);
        return { store, clock, schema };
      },
    };

    describeMigrations(context);
    describeExactNumbers(context);
    describeEpochAdvance(context);
    describeInputValidation(context);
    describeSchemaIsolation(context);
    describeRegistryRepositories(context);
    describeOperatorRepositories(context);
    describeQueue(context);
    describeOperatorFacts(context);
  });
}
