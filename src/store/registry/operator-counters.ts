import { sql } from 'kysely';
import { unsuspendOperator } from '../../core/operator-lifecycle.ts';
import type { OperatorStatus } from '../../core/operator-status.ts';
import type { DB } from '../generated/registry-db.ts';
import { jsonRecordset, orderedJsonRecordset } from '../json-recordset.ts';
import { nowAsDate, type QueryContext } from '../query-context.ts';
import type { OperatorFactTotals } from './operator-facts.ts';
import { type OperatorRecord, toOperatorRecord, type UnsuspendedStatus } from './operators.ts';

/**
 * The counters of operators are derived from their replicated facts (operator-facts.ts). The
 * `operator_fact_counts` table (migration 0004) keeps each operator's fact totals, added to by
 * every fact insert with what was actually new, so a derivation reads one row per operator
 * instead of counting its whole history, and a set of operators is derived in a constant number
 * of statements (one select, at most one update), not a few per operator.
 */

/** What an `insert … on conflict do nothing returning` says a new fact was. */
export interface InsertedFact {
  kind: string;
  operator_address: string;
  misses_cleared: number | null;
}

/** One operator's fact totals, as an `operator_fact_counts` row holds them. */
export interface FactCounts {
  operator_address: string;
  misses: number;
  successes: number;
  unsuspends: number;
  misses_cleared: number;
}

/** The totals of an operator with no facts (the row `operator_fact_counts` lacks, all 0). */
export function emptyFactCounts(address: string): FactCounts {
  return { operator_address: address, misses: 0, successes: 0, unsuspends: 0, misses_cleared: 0 };
}

/**
 * `counts` with one new fact added: the one rule of what each kind of fact counts, for SQL's
 * per-insert deltas and the memory adapter's totals alike.
 */
export function withFactCounted<Counts extends FactCounts>(
  counts: Counts,
  fact: InsertedFact,
): Counts {
  if (fact.kind === 'missed') return { ...counts, misses: counts.misses + 1 };
  if (fact.kind === 'succeeded') return { ...counts, successes: counts.successes + 1 };
  return {
    ...counts,
    unsuspends: counts.unsuspends + 1,
    misses_cleared: Math.max(counts.misses_cleared, fact.misses_cleared ?? 0),
  };
}

/**
 * Adds newly inserted facts to their operators' totals, in one statement. Only facts the insert
 * reported as new may be passed, or a fact would be counted twice. Run in the insert's
 * transaction.
 */
export async function addToFactCounts(
  context: QueryContext<DB>,
  inserted: readonly InsertedFact[],
): Promise<void> {
  if (inserted.length === 0) return;
  const deltas = new Map<string, FactCounts>();
  for (const fact of inserted) {
    const key = fact.operator_address;
    deltas.set(key, withFactCounted(deltas.get(key) ?? emptyFactCounts(key), fact));
  }
  // Sorted, so concurrent transactions lock the rows in one order.
  const rows = [...deltas.values()].sort((a, b) =>
    a.operator_address < b.operator_address ? -1 : 1,
  );
  await context.db
    .insertInto('operator_fact_counts')
    .columns(['operator_address', 'misses', 'successes', 'unsuspends', 'misses_cleared'])
    .expression((eb) =>
      eb
        .selectFrom(
          orderedJsonRecordset(
            rows,
            'operator_address text, misses int, successes int, unsuspends int, misses_cleared int',
          ),
        )
        .select([
          'v.operator_address',
          'v.misses',
          'v.successes',
          'v.unsuspends',
          'v.misses_cleared',
        ])
        .orderBy('v.ordinal'),
    )
    .onConflict((conflict) =>
      conflict.column('operator_address').doUpdateSet((eb) => ({
        misses: eb('operator_fact_counts.misses', '+', eb.ref('excluded.misses')),
        successes: eb('operator_fact_counts.successes', '+', eb.ref('excluded.successes')),
        unsuspends: eb('operator_fact_counts.unsuspends', '+', eb.ref('excluded.unsuspends')),
        misses_cleared: sql<number>`greatest(${eb.ref('operator_fact_counts.misses_cleared')}, ${eb.ref('excluded.misses_cleared')})`,
      })),
    )
    .execute();
}

export interface DerivedOperator {
  /** The operator after the derivation. */
  operator: OperatorRecord;
  statusChanged: boolean;
  /** True only when this derivation suspended it. */
  suspendedNow: boolean;
}

/** An operator's counters and status as its facts make them (see `deriveCounters`). */
export interface DerivedCounters {
  missing: number;
  successes: number;
  status: OperatorStatus;
  statusBeforeSuspension: UnsuspendedStatus | null;
  /** True only when this derivation suspends it. */
  suspendedNow: boolean;
  /** Whether the status differs from the record's. */
  statusChanged: boolean;
  /** Nothing to write: status, `missing` and `successfulResponseCount` are as stored. */
  unchanged: boolean;
}

/**
 * The derivation rule for one operator (see `deriveOperatorCounters`), apart from how its facts
 * and the latest epoch are read, so SQL and the memory adapter derive alike. `latestEpoch` is the
 * highest stored epoch (0 when none), read only when a suspension is lifted.
 */
export function deriveCounters(
  record: OperatorRecord,
  totals: OperatorFactTotals,
  latestEpoch: () => number,
  suspendAtMisses: number | undefined,
): DerivedCounters {
  const successes = totals.successes;
  const missing = Math.max(0, totals.misses - totals.missesCleared);
  let status = record.status;
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
      totals.unsuspends > 0
    ) {
      const lifted = unsuspendOperator(record, latestEpoch());
      status = lifted.operator.status;
      statusBeforeSuspension = null;
    }
  }
  const unchanged =
    status === record.status &&
    missing === record.missing &&
    successes === record.successfulResponseCount;
  return {
    missing,
    successes,
    status,
    statusBeforeSuspension,
    suspendedNow,
    statusChanged: status !== record.status,
    unchanged,
  };
}

interface CounterUpdate {
  address: string;
  missing: number;
  successes: number;
  status: OperatorStatus;
  status_before_suspension: UnsuspendedStatus | null;
}

/**
 * Derives the counters and miss suspension of a set of operators from their facts:
 * `successfulResponseCount` = their `succeeded` facts; `missing` = their `missed` facts beyond
 * the largest `missesCleared` of their unsuspends; with `suspendAtMisses` given, `missing ≥
 * suspendAtMisses` suspends one (remembering its status), and one suspended while an unsuspend
 * brought `missing` below that is lifted by the core's `unsuspendOperator` at the latest stored
 * epoch. Operators not stored yet are skipped (their counters are derived when
 * `operators.upsert` first stores them). Returns every stored operator of the set, keyed by
 * lowercase address, as it is after the derivation. Two statements at most, whatever the set's
 * size or the operators' history; run inside a transaction.
 */
export async function deriveOperatorCounters(
  context: QueryContext<DB>,
  addresses: readonly string[],
  suspendAtMisses: number | undefined,
): Promise<Map<string, DerivedOperator>> {
  const keys = [...new Set(addresses.map((address) => address.toLowerCase()))].sort();
  const derived = new Map<string, DerivedOperator>();
  if (keys.length === 0) return derived;
  const rows = await context.db
    .selectFrom('operators')
    .leftJoin('operator_fact_counts as counts', 'counts.operator_address', 'operators.address')
    .selectAll('operators')
    .select((eb) => [
      eb.fn.coalesce('counts.misses', sql.lit(0)).as('fact_misses'),
      eb.fn.coalesce('counts.successes', sql.lit(0)).as('fact_successes'),
      eb.fn.coalesce('counts.unsuspends', sql.lit(0)).as('fact_unsuspends'),
      eb.fn.coalesce('counts.misses_cleared', sql.lit(0)).as('fact_misses_cleared'),
      eb
        .selectFrom('epoch_states')
        .select((inner) => inner.fn.max('epoch_number').as('epoch'))
        .as('latest_epoch'),
    ])
    .where('operators.address', 'in', keys)
    .orderBy('operators.address')
    .forUpdate('operators')
    .execute();

  const updates: CounterUpdate[] = [];
  for (const row of rows) {
    const record = toOperatorRecord(row);
    const counters = deriveCounters(
      record,
      {
        misses: Number(row.fact_misses),
        successes: Number(row.fact_successes),
        unsuspends: Number(row.fact_unsuspends),
        missesCleared: Number(row.fact_misses_cleared),
      },
      () => Number(row.latest_epoch ?? 0),
      suspendAtMisses,
    );
    if (counters.unchanged) {
      derived.set(row.address, { operator: record, statusChanged: false, suspendedNow: false });
      continue;
    }
    updates.push({
      address: row.address,
      missing: counters.missing,
      successes: counters.successes,
      status: counters.status,
      status_before_suspension: counters.statusBeforeSuspension,
    });
    derived.set(row.address, {
      operator: record,
      statusChanged: counters.statusChanged,
      suspendedNow: counters.suspendedNow,
    });
  }
  if (updates.length === 0) return derived;

  const updated = await context.db
    .updateTable('operators')
    .from(
      jsonRecordset<CounterUpdate>(
        updates,
        'address text, missing int, successes int, status text, status_before_suspension text',
      ),
    )
    .set((eb) => ({
      missing: eb.ref('v.missing'),
      successful_response_count: eb.ref('v.successes'),
      status: eb.ref('v.status'),
      status_before_suspension: eb.ref('v.status_before_suspension'),
      updated_at: nowAsDate(context.clock),
    }))
    .whereRef('operators.address', '=', 'v.address')
    .returningAll('operators')
    .execute();
  for (const row of updated) {
    const before = derived.get(row.address);
    if (before) derived.set(row.address, { ...before, operator: toOperatorRecord(row) });
  }
  return derived;
}
