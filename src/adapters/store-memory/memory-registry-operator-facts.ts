import type { Selectable } from 'kysely';
import { unsuspendOperator } from '../../core/operator-lifecycle.ts';
import type { OperatorStatus } from '../../core/operator-status.ts';
import type { OperatorFactCounts, OperatorFacts } from '../../store/generated/registry-db.ts';
import type { DerivedOperator } from '../../store/registry/operator-counters.ts';
import {
  checkOperatorFact,
  MAX_FACTS_PER_MERGE,
  type OperatorFact,
  type OperatorFactsRepository,
  toStoredFact,
} from '../../store/registry/operator-facts.ts';
import {
  type OperatorRecord,
  toOperatorRecord,
  type UnsuspendedStatus,
} from '../../store/registry/operators.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../../store/validate.ts';
import type { MemoryRegistryContext, MemoryRegistryTables } from './memory-registry-tables.ts';
import { InsertOnlyUniqueIndex } from './memory-registry-unique-index.ts';

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

const factsByNaturalKey = new InsertOnlyUniqueIndex<OperatorFactRow>(factKey, (row) => row.seq);

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
    const columns = {
      kind: fact.kind,
      operator_address: fact.operator.toLowerCase(),
      task_id: fact.kind === 'unsuspended' ? null : fact.taskId.toLowerCase(),
      misses_cleared: fact.kind === 'unsuspended' ? fact.missesCleared : null,
    };
    if (factsByNaturalKey.find(tables.operatorFacts, factKey(columns))) continue;
    const row: OperatorFactRow = { seq, ...columns, recorded_at: new Date(nowMs) };
    tables.operatorFacts.set(seq, row);
    factsByNaturalKey.add(tables.operatorFacts, row);
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
    const counts = tables.operatorFactCounts.get(key) ?? emptyFactCounts(key);
    tables.operatorFactCounts.set(key, {
      ...counts,
      misses: counts.misses + (fact.kind === 'missed' ? 1 : 0),
      successes: counts.successes + (fact.kind === 'succeeded' ? 1 : 0),
      unsuspends: counts.unsuspends + (fact.kind === 'unsuspended' ? 1 : 0),
      misses_cleared: Math.max(counts.misses_cleared, fact.misses_cleared ?? 0),
    });
  }
}

const emptyFactCounts = (address: string): FactCountsRow => ({
  operator_address: address,
  misses: 0,
  successes: 0,
  unsuspends: 0,
  misses_cleared: 0,
});

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
    const counts = tables.operatorFactCounts.get(key) ?? emptyFactCounts(key);
    const successes = counts.successes;
    const missing = Math.max(0, counts.misses - counts.misses_cleared);
    let status: OperatorStatus = record.status;
    let statusBeforeSuspension = record.statusBeforeSuspension;
    let suspendedNow = false;
    if (suspendAtMisses !== undefined) {
      if (missing >= suspendAtMisses && record.status !== 'suspended') {
        statusBeforeSuspension = record.status as UnsuspendedStatus;
        status = 'suspended';
        suspendedNow = true;
      } else if (
        missing < suspendAtMisses &&
        record.status === 'suspended' &&
        counts.unsuspends > 0
      ) {
        const lifted = unsuspendOperator(record, latestEpoch(tables));
        status = lifted.operator.status;
        statusBeforeSuspension = null;
      }
    }
    const unchanged =
      status === record.status &&
      missing === record.missing &&
      successes === record.successfulResponseCount;
    if (unchanged) {
      derived.set(key, { operator: record, statusChanged: false, suspendedNow: false });
      continue;
    }
    const updated = {
      ...row,
      missing,
      successful_response_count: successes,
      status,
      status_before_suspension: statusBeforeSuspension,
      updated_at: new Date(nowMs),
    };
    tables.operators.set(key, updated);
    derived.set(key, {
      operator: toOperatorRecord(updated),
      statusChanged: status !== record.status,
      suspendedNow,
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
      const checks = inputChecks(operation);
      const checked = checks
        .array('facts', facts, MAX_FACTS_PER_MERGE)
        .map((fact, index) => checkOperatorFact(checks, `facts[${index}]`, fact));
      const suspendAtMisses = checks.positiveInteger(
        'suspendAtMisses',
        options?.suspendAtMisses,
        1000,
      );
      if (checked.length === 0) return { added: 0, changed: [] };
      return run(operation, () => {
        const nowMs = clock.now();
        const added = insertMemoryOperatorFacts(tables, nowMs, checked);
        const changed: OperatorRecord[] = [];
        if (added === 0) return { added, changed };
        // Every named operator, not only those with new facts: a counter written directly
        // (recordSuccessfulResponses, an admin's `missing`) is replaced by the derived one.
        const derived = deriveMemoryOperatorCounters(
          tables,
          nowMs,
          checked.map((fact) => fact.operator),
          suspendAtMisses,
        );
        for (const result of derived.values()) {
          if (result.statusChanged) changed.push(result.operator);
        }
        return { added, changed };
      });
    },

    async listAfter(afterSeq, limit) {
      const operation = 'operatorFacts.listAfter';
      const checks = inputChecks(operation);
      const after = checks.counter('afterSeq', afterSeq);
      const max = checks.positiveInteger('limit', limit, MAX_LIST_LIMIT);
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
      return run(operation, () => {
        const row = tables.operatorFactCounts.get(key) ?? emptyFactCounts(key);
        return {
          misses: row.misses,
          successes: row.successes,
          unsuspends: row.unsuspends,
          missesCleared: row.misses_cleared,
        };
      });
    },
  };
}
