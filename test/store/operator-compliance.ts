import { afterAll, beforeAll } from 'vitest';
import type { OpenStoreOptions, StoreDeps } from '../../src/store/open-store-database.ts';
import type { OperatorStore } from '../../src/store/operator/operator-store.ts';
import { describeOperatorInputValidation } from './compliance/operator-input-validation.ts';
import { describeOperatorPeerCache } from './compliance/operator-peer-cache.ts';
import { describeOperatorRepositories } from './compliance/operator-repositories.ts';
import { createManualClock, freshSchema, type ManualClock } from './harness.ts';

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

/** What each operator section gets: an opener that closes what it opens. */
export interface OperatorComplianceContext {
  openOperator(options?: StoreOpenOptions): Promise<OpenedStore<OperatorStore>>;
}

/** Opens stores with `open`, in a fresh schema with a manual clock unless given; `opened` closes them. */
export function createStoreOpener<S>(
  open: (deps: StoreDeps, options: OpenStoreOptions) => Promise<S>,
  prefix: string,
  opened: { close(): Promise<void> }[],
): (options?: StoreOpenOptions) => Promise<OpenedStore<S>> {
  return async (options = {}) => {
    const clock = options.clock ?? createManualClock();
    const schema = options.schema ?? freshSchema(prefix);
    const store = await open(
      { clock },
      { schema, ...(options.onQuery ? { onQuery: options.onQuery } : {}) },
    );
    opened.push(store as { close(): Promise<void> });
    return { store, clock, schema };
  };
}

/** The sections every operator store adapter passes (SQL or not). */
export function describeOperatorStoreSections(context: OperatorComplianceContext): void {
  describeOperatorRepositories(context);
  describeOperatorPeerCache(context);
  describeOperatorInputValidation(context);
}

/**
 * Inside a `describe`: starts the harness before its tests and, after them, closes every store
 * they opened (`opened`) and then the harness.
 */
export function useHarness<H extends { close(): Promise<void> }>(
  name: string,
  createHarness: () => Promise<H>,
): { requireHarness: () => H; opened: { close(): Promise<void> }[] } {
  let harness: H | undefined;
  const opened: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    harness = await createHarness();
  });
  afterAll(async () => {
    for (const store of opened) await store.close();
    await harness?.close();
  });
  const requireHarness = (): H => {
    if (!harness) throw new Error(`the ${name} harness failed to start; see the beforeAll error`);
    return harness;
  };
  return { requireHarness, opened };
}
