import type { Selectable } from 'kysely';
import type { OperatorFactCounts, OperatorFacts } from '../../store/generated/registry-db.ts';
import {
  type DerivedOperator,
  deriveCounters,
  emptyFactCounts,
  withFactCounted,
} from '../../store/registry/operator-counters.ts';
import {
  changedOperators,
  checkFactsMerge,
  checkFactsPage,
  type OperatorFact,
  type OperatorFactsRepository,
  toFactColumns,
  toFactTotals,
  toStoredFact,
} from '../../store/registry/operator-facts.ts';
import { toOperatorRecord } from '../../store/registry/operators.ts';
import { inputChecks } from '../../store/validate.ts';
import type { MemoryRegistryContext, MemoryRegistryTables } from './memory-registry-tables.ts';

type OperatorFactRow = Selectable<OperatorFacts>;
type FactCountsRow = Selectable<OperatorFactCounts>;

/**
 * A fact's natural key, as the unique constraints of migration 0003 compare it:
 * `operator_facts_task_unique (kind, task_id, operator_address)` for task facts and
 * `operator_facts_unsuspend_unique (operator_address, misses_cleared)` for unsuspends (the NULL
 * column of each kind keeps the other constraint out of it).
 */
const factKey = (row: Omit<OperatorFactRow, 'seq' | 'recorded_at'>): string =>
  row.kind === 'unsuspended'
    ? `unsuspended/${row.operator_address}/${row.misses_cleared}`
    : `${row.kind}/${row.task_id}/${row.operator_address}`;

/**
 * `insertOperatorFacts` (store/registry/operator-facts.ts) over the memory tables: inserts the
 * facts not stored yet (by their natural keys), adds the new ones to their operators' fact totals,
 * returns how many were new. Synchronous: call it inside a `run`.
 */
export function insertMemoryOperatorFacts(
  tables: MemoryRegistryTables,
  nowMs: number,
  facts: readonly OperatorFact[],
): number {
  const inserted: OperatorFactRow[] = [];
  for (const fact of facts) {
    // As nextval in SQL: a fact skipped as a duplicate still uses up its seq.
    const seq = tables.sequences.operatorFactSeq++;
    const columns = toFactColumns(fact);
    const key = factKey(columns);
    if (tables.operatorFactSeqByKey.get(key) !== undefined) continue;
    const row: OperatorFactRow = { seq, ...columns, recorded_at: new Date(nowMs) };
    tables.operatorFacts.set(seq, row);
    tables.operatorFactSeqByKey.set(key, seq);
    inserted.push(row);
  }
  addToMemoryFactCounts(tables, inserted);
  return inserted.length;
}

/** `addToFactCounts` (operator-counters.ts): only facts just inserted, or one counts twice. */
function addToMemoryFactCounts(
  tables: MemoryRegistryTables,
  inserted: readonly OperatorFactRow[],
): void {
  for (const fact of inserted) {
    const key = fact.operator_address;
    const counts: FactCountsRow = tables.operatorFactCounts.get(key) ?? emptyFactCounts(key);
    tables.operatorFactCounts.set(key, withFactCounted(counts, fact));
  }
}

/**
 * `deriveOperatorCounters` (store/registry/operator-counters.ts) over the memory tables: the
 * same result map, keyed by lowercase address. Synchronous: call it inside a `run`.
 */
export function deriveMemoryOperatorCounters(
  tables: MemoryRegistryTables,
  nowMs: number,
  addresses: readonly string[],
  suspendAtMisses: number | undefined,
): Map<string, DerivedOperator> {
  const keys = [...new Set(addresses.map((address) => address.toLowerCase()))].sort();
  const derived = new Map<string, DerivedOperator>();
  for (const key of keys) {
    const row = tables.operators.get(key);
    // Not stored yet: `operators.upsert` derives its counters when it first stores it.
    if (!row) continue;
    const record = toOperatorRecord(row);
    const counters = deriveCounters(
      record,
      toFactTotals(tables.operatorFactCounts.get(key)),
      () => latestEpoch(tables),
      suspendAtMisses,
    );
    if (counters.unchanged) {
      derived.set(key, { operator: record, statusChanged: false, suspendedNow: false });
      continue;
    }
    const updated = {
      ...row,
      missing: counters.missing,
      successful_response_count: counters.successes,
      status: counters.status,
      status_before_suspension: counters.statusBeforeSuspension,
      updated_at: new Date(nowMs),
    };
    tables.operators.set(key, updated);
    derived.set(key, {
      operator: toOperatorRecord(updated),
      statusChanged: counters.statusChanged,
      suspendedNow: counters.suspendedNow,
    });
  }
  return derived;
}

/** `max(epoch_number)` of the stored epochs, 0 when none (as the SQL derivation reads it). */
function latestEpoch(tables: MemoryRegistryTables): number {
  let latest = 0;
  for (const state of tables.epochStates.values()) latest = Math.max(latest, state.epoch_number);
  return latest;
}

/** `operatorFacts` (store/registry/operator-facts.ts) over the memory tables. */
export function createMemoryOperatorFactsRepository(
  context: MemoryRegistryContext,
): OperatorFactsRepository {
  const { tables, clock, run } = context;
  const bySeq = (a: OperatorFactRow, b: OperatorFactRow) => a.seq - b.seq;
  return {
    async merge(facts, options) {
      const operation = 'operatorFacts.merge';
      const { checked, operators, suspendAtMisses } = checkFactsMerge(operation, facts, options);
      if (checked.length === 0) return { added: 0, changed: [] };
      return run(operation, () => {
        const nowMs = clock.now();
        const added = insertMemoryOperatorFacts(tables, nowMs, checked);
        if (added === 0) return { added, changed: [] };
        const derived = deriveMemoryOperatorCounters(tables, nowMs, operators, suspendAtMisses);
        return { added, changed: changedOperators(derived) };
      });
    },

    async listAfter(afterSeq, limit) {
      const operation = 'operatorFacts.listAfter';
      const { after, max } = checkFactsPage(operation, afterSeq, limit);
      return run(operation, () =>
        [...tables.operatorFacts.values()]
          .filter((row) => row.seq > after)
          .sort(bySeq)
          .slice(0, max)
          .map(toStoredFact),
      );
    },

    async latestSeq() {
      return run('operatorFacts.latestSeq', () => {
        let latest = 0;
        for (const row of tables.operatorFacts.values()) latest = Math.max(latest, row.seq);
        return latest;
      });
    },

    async listByOperator(operator) {
      const operation = 'operatorFacts.listByOperator';
      const key = inputChecks(operation).address('operator', operator);
      return run(operation, () =>
        [...tables.operatorFacts.values()]
          .filter((row) => row.operator_address === key)
          .sort(bySeq)
          .map(toStoredFact),
      );
    },

    async totals(operator) {
      const operation = 'operatorFacts.totals';
      const key = inputChecks(operation).address('operator', operator);
      return run(operation, () => toFactTotals(tables.operatorFactCounts.get(key)));
    },
  };
}
