import { describe } from 'vitest';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import { describeEpochAdvance } from './compliance/epoch-advance.ts';
import { describeExactNumbers } from './compliance/exact-numbers.ts';
import { describeHexDomains } from './compliance/hex-domains.ts';
import { describeInputValidation } from './compliance/input-validation.ts';
import { describeMigrations } from './compliance/migrations.ts';
import { describeOperatorFacts } from './compliance/operator-facts.ts';
import { describeQueue } from './compliance/queue.ts';
import { describeRegistryRepositories } from './compliance/registry-repositories.ts';
import { describeSchemaIsolation } from './compliance/schema-isolation.ts';
import type { StoreHarness, StoreHarnessFactory } from './harness.ts';
import {
  createStoreOpener,
  describeOperatorStoreSections,
  type OpenedStore,
  type OperatorComplianceContext,
  type StoreOpenOptions,
  useHarness,
} from './operator-compliance.ts';

/**
 * What each compliance section gets: the harness and openers that close what they open (the
 * operator sections get only `openOperator`).
 */
export interface ComplianceContext extends OperatorComplianceContext {
  harness(): StoreHarness;
  /** The adapter is SQL: raw queries, migrations and the schema's own constraints apply. */
  sql: boolean;
  openRegistry(options?: StoreOpenOptions): Promise<OpenedStore<RegistryStore>>;
}

/**
 * The Store compliance suite (STYLE: js-libp2p interface-compliance-tests): every adapter runs
 * exactly these tests, so node code can rely on the port alone.
 */
export function describeStoreCompliance(
  name: string,
  createHarness: StoreHarnessFactory,
  options: { sql?: boolean } = {},
): void {
  const sql = options.sql ?? true;
  describe(`Store compliance: ${name}`, () => {
    const { requireHarness, opened } = useHarness(name, createHarness);

    const context: ComplianceContext = {
      harness: requireHarness,
      sql,
      openRegistry: createStoreOpener(
        (deps, options) => requireHarness().openRegistryStore(deps, options),
        'registry',
        opened,
      ),
      openOperator: createStoreOpener(
        (deps, options) => requireHarness().openOperatorStore(deps, options),
        'operator',
        opened,
      ),
    };

    // Migrations and the schema's domain checks exist only in SQL.
    if (sql) describeMigrations(context);
    describeExactNumbers(context);
    describeEpochAdvance(context);
    describeInputValidation(context);
    if (sql) describeHexDomains(context);
    describeSchemaIsolation(context);
    describeRegistryRepositories(context);
    describeOperatorStoreSections(context);
    describeQueue(context);
    describeOperatorFacts(context);
  });
}
