import { type Selectable, sql } from 'kysely';
import type { Address, Hex } from 'viem';
import type { DB, OperatorFacts } from '../generated/registry-db.ts';
import { orderedJsonRecordset } from '../json-recordset.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress, storedHex, storedOneOf } from '../stored-values.ts';
import { type InputChecks, inputChecks, MAX_LIST_LIMIT } from '../validate.ts';
import {
  addToFactCounts,
  type DerivedOperator,
  deriveOperatorCounters,
  type FactCounts,
} from './operator-counters.ts';
import type { OperatorRecord } from './operators.ts';

/**
 * One replicated off-chain fact about an operator (src/registry/README.md "Replication"). Facts
 * are keyed naturally — `(kind, taskId, operator)` for task facts, `(operator, missesCleared)` for
 * unsuspends — so storing one twice, or in another order, changes nothing.
 */
export type OperatorFact =
  | { readonly kind: 'missed' | 'succeeded'; readonly operator: Address; readonly taskId: Hex }
  | { readonly kind: 'unsuspended'; readonly operator: Address; readonly missesCleared: number };

export const OPERATOR_FACT_KINDS = ['missed', 'succeeded', 'unsuspended'] as const;

export interface StoredOperatorFact {
  /** Local order of arrival (anti-entropy pages through it). */
  readonly seq: number;
  readonly fact: OperatorFact;
}

export interface OperatorFactsMerge {
  /** How many of the facts were new here. */
  added: number;
  /** Operators whose derived status changed, as they are now. */
  changed: OperatorRecord[];
}

export interface OperatorFactsRepository {
  /**
   * Adds the facts not stored yet (set union) and derives again the counters and miss suspension
   * of every operator they name, in one transaction. `suspendAtMisses` is the core's rule.
   */
  merge(
    facts: readonly OperatorFact[],
    options: { suspendAtMisses: number },
  ): Promise<OperatorFactsMerge>;
  /** Facts stored after `afterSeq`, ascending by seq, at most `limit`. */
  listAfter(afterSeq: number, limit: number): Promise<StoredOperatorFact[]>;
  /** The seq of the latest stored fact (0 when none). */
  latestSeq(): Promise<number>;
  /** Every fact about one operator, ascending by seq. */
  listByOperator(operator: Address): Promise<StoredOperatorFact[]>;
  /**
   * How many facts of each kind are stored about one operator, and the largest `missesCleared`
   * of its unsuspends (all 0 when none): one row, whatever the length of its history.
   */
  totals(operator: Address): Promise<OperatorFactTotals>;
}

export interface OperatorFactTotals {
  misses: number;
  successes: number;
  unsuspends: number;
  missesCleared: number;
}

/** A bound on one merge: an anti-entropy page is far smaller. */
export const MAX_FACTS_PER_MERGE = 1_024;

export function checkOperatorFact(
  checks: InputChecks,
  field: string,
  value: unknown,
): OperatorFact {
  checks.require(typeof value === 'object' && value !== null, field, 'expected an object');
  const raw = value as Record<string, unknown>;
  const kind = storedKind(checks, `${field}.kind`, raw['kind']);
  const operator = checks.address(`${field}.operator`, raw['operator']);
  if (kind === 'unsuspended') {
    return {
      kind,
      operator,
      missesCleared: checks.counter(`${field}.missesCleared`, raw['missesCleared']),
    };
  }
  return { kind, operator, taskId: checks.bytes32(`${field}.taskId`, raw['taskId']) };
}

function storedKind(checks: InputChecks, field: string, value: unknown): OperatorFact['kind'] {
  checks.require(
    typeof value === 'string' && (OPERATOR_FACT_KINDS as readonly string[]).includes(value),
    field,
    `expected one of ${OPERATOR_FACT_KINDS.join(', ')}`,
  );
  return value as OperatorFact['kind'];
}

export function toStoredFact(row: Selectable<OperatorFacts>): StoredOperatorFact {
  const kind = storedOneOf(row.kind, OPERATOR_FACT_KINDS);
  const operator = storedAddress(row.operator_address);
  if (kind === 'unsuspended') {
    return { seq: row.seq, fact: { kind, operator, missesCleared: row.misses_cleared ?? 0 } };
  }
  return { seq: row.seq, fact: { kind, operator, taskId: storedHex(row.task_id ?? '') } };
}

/**
 * A fact's columns in stored form (lowercase hex; the column of the other kind null), before the
 * insert gives it a seq and time: one mapping for SQL and the memory adapter.
 */
export function toFactColumns(fact: OperatorFact) {
  return {
    kind: fact.kind,
    operator_address: fact.operator.toLowerCase(),
    task_id: fact.kind === 'unsuspended' ? null : fact.taskId.toLowerCase(),
    misses_cleared: fact.kind === 'unsuspended' ? fact.missesCleared : null,
  };
}

/**
 * `merge`'s arguments checked, with the operators whose counters it derives again (shared with
 * the memory adapter).
 */
export function checkFactsMerge(
  operation: string,
  facts: readonly OperatorFact[],
  options: { suspendAtMisses: number },
) {
  const checks = inputChecks(operation);
  const checked = checks
    .array('facts', facts, MAX_FACTS_PER_MERGE)
    .map((fact, index) => checkOperatorFact(checks, `facts[${index}]`, fact));
  const suspendAtMisses = checks.positiveInteger('suspendAtMisses', options?.suspendAtMisses, 1000);
  // Every named operator, not only those with new facts: a counter written directly
  // (recordSuccessfulResponses, an admin's `missing`) is replaced by the derived one.
  const operators = checked.map((fact) => fact.operator);
  return { checked, operators, suspendAtMisses };
}

/** The operators a merge's derivation changed the status of, as `merge` reports them. */
export function changedOperators(derived: ReadonlyMap<string, DerivedOperator>): OperatorRecord[] {
  const changed: OperatorRecord[] = [];
  for (const result of derived.values()) {
    if (result.statusChanged) changed.push(result.operator);
  }
  return changed;
}

/** `listAfter`'s arguments checked (shared with the memory adapter). */
export function checkFactsPage(operation: string, afterSeq: number, limit: number) {
  const checks = inputChecks(operation);
  const after = checks.counter('afterSeq', afterSeq);
  const max = checks.positiveInteger('limit', limit, MAX_LIST_LIMIT);
  return { after, max };
}

/** An `operator_fact_counts` row as `totals` returns it (all 0 for an operator without one). */
export function toFactTotals(
  row: Pick<FactCounts, 'misses' | 'successes' | 'unsuspends' | 'misses_cleared'> | undefined,
): OperatorFactTotals {
  return {
    misses: Number(row?.misses ?? 0),
    successes: Number(row?.successes ?? 0),
    unsuspends: Number(row?.unsuspends ?? 0),
    missesCleared: Number(row?.misses_cleared ?? 0),
  };
}

/**
 * Inserts facts (existing ones are skipped by their natural keys) and adds the new ones to their
 * operators' fact totals; returns how many were new. Two statements whatever the number of facts.
 * Must run inside a transaction together with `deriveOperatorCounters`.
 */
export async function insertOperatorFacts(
  context: QueryContext<DB>,
  facts: readonly OperatorFact[],
): Promise<number> {
  if (facts.length === 0) return 0;
  const now = nowAsDate(context.clock);
  const rows = facts.map(toFactColumns);
  // One JSON parameter: the same statement for any number of facts.
  const inserted = await context.db
    .insertInto('operator_facts')
    .columns(['kind', 'operator_address', 'task_id', 'misses_cleared', 'recorded_at'])
    .expression((eb) =>
      eb
        .selectFrom(
          orderedJsonRecordset(
            rows,
            'kind text, operator_address text, task_id text, misses_cleared int',
          ),
        )
        .select([
          'v.kind',
          'v.operator_address',
          'v.task_id',
          'v.misses_cleared',
          sql<Date>`cast(${now} as timestamptz)`.as('recorded_at'),
        ])
        .orderBy('v.ordinal'),
    )
    .onConflict((conflict) => conflict.doNothing())
    .returning(['kind', 'operator_address', 'misses_cleared'])
    .execute();
  await addToFactCounts(context, inserted);
  return inserted.length;
}

export function createOperatorFactsRepository(context: QueryContext<DB>): OperatorFactsRepository {
  return {
    async merge(facts, options) {
      const operation = 'operatorFacts.merge';
      const { checked, operators, suspendAtMisses } = checkFactsMerge(operation, facts, options);
      if (checked.length === 0) return { added: 0, changed: [] };
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const added = await insertOperatorFacts(tx, checked);
          if (added === 0) return { added, changed: [] };
          const derived = await deriveOperatorCounters(tx, operators, suspendAtMisses);
          return { added, changed: changedOperators(derived) };
        }),
      );
    },

    async listAfter(afterSeq, limit) {
      const operation = 'operatorFacts.listAfter';
      const { after, max } = checkFactsPage(operation, afterSeq, limit);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('operator_facts')
          .selectAll()
          .where('seq', '>', after)
          .orderBy('seq')
          .limit(max)
          .execute();
        return rows.map(toStoredFact);
      });
    },

    async latestSeq() {
      return runQuery('operatorFacts.latestSeq', async () => {
        const row = await context.db
          .selectFrom('operator_facts')
          .select(sql<number>`coalesce(max(seq), 0)`.as('seq'))
          .executeTakeFirst();
        return Number(row?.seq ?? 0);
      });
    },

    async listByOperator(operator) {
      const operation = 'operatorFacts.listByOperator';
      const key = inputChecks(operation).address('operator', operator);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('operator_facts')
          .selectAll()
          .where('operator_address', '=', key)
          .orderBy('seq')
          .execute();
        return rows.map(toStoredFact);
      });
    },

    async totals(operator) {
      const operation = 'operatorFacts.totals';
      const key = inputChecks(operation).address('operator', operator);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('operator_fact_counts')
          .select(['misses', 'successes', 'unsuspends', 'misses_cleared'])
          .where('operator_address', '=', key)
          .executeTakeFirst();
        return toFactTotals(row);
      });
    },
  };
}
