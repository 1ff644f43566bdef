import type { Selectable } from 'kysely';
import type { Address } from 'viem';
import type { DB, EpochOperators } from '../generated/registry-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress } from '../stored-values.ts';
import { type InputChecks, inputChecks, MAX_LIST_LIMIT } from '../validate.ts';

/**
 * An active operator of an epoch, with the weight and signing key it had at that epoch. Same shape
 * as the core's EpochOperator.
 */
export interface EpochOperatorEntry {
  operator: Address;
  weightWei: bigint;
  signingKey: Address;
}

export interface EpochOperatorRecord extends EpochOperatorEntry {
  epoch: number;
}

export interface WeightSum {
  operatorCount: number;
  /** Computed in SQL over NUMERIC, so exact for any number of uint256 weights. */
  totalWeightWei: bigint;
}

export interface EpochOperatorsRepository {
  /**
   * Replaces the epoch's snapshot with `entries`. The epoch's state row and every operator must
   * exist (foreign keys). An epoch advance goes through `applyEpochAdvance` instead.
   */
  snapshot(epoch: number, entries: readonly EpochOperatorEntry[]): Promise<void>;
  /** The snapshot, ascending by operator address as a number. */
  list(epoch: number): Promise<EpochOperatorRecord[]>;
  get(epoch: number, address: Address): Promise<EpochOperatorRecord | undefined>;
  /** Sums the weights of the epoch's snapshot, or of the given operators within it. */
  sumWeights(epoch: number, options?: { operators?: readonly Address[] }): Promise<WeightSum>;
}

export function toEpochOperatorRecord(row: Selectable<EpochOperators>): EpochOperatorRecord {
  return {
    epoch: row.epoch_number,
    operator: storedAddress(row.operator_address),
    weightWei: row.weight,
    signingKey: storedAddress(row.signing_key),
  };
}

/** Validates snapshot entries into rows; an operator may appear once. */
export function checkSnapshotEntries(
  checks: InputChecks,
  field: string,
  epoch: number,
  entries: unknown,
): EpochOperators[] {
  const seen = new Set<string>();
  return checks.array(field, entries, MAX_LIST_LIMIT).map((entry, index) => {
    const at = `${field}[${index}]`;
    checks.require(typeof entry === 'object' && entry !== null, at, 'expected an object');
    const value = entry as Partial<Record<keyof EpochOperatorEntry, unknown>>;
    const address = checks.address(`${at}.operator`, value.operator);
    checks.require(!seen.has(address), `${at}.operator`, `operator ${address} appears twice`);
    seen.add(address);
    return {
      epoch_number: epoch,
      operator_address: address,
      weight: checks.uint256(`${at}.weightWei`, value.weightWei),
      signing_key: checks.address(`${at}.signingKey`, value.signingKey),
    };
  });
}

/** `snapshot`'s arguments checked: the epoch and its rows (shared with the memory adapter). */
export function checkSnapshot(operation: string, epoch: number, entries: unknown) {
  const checks = inputChecks(operation);
  const epochNumber = checks.uint32('epoch', epoch);
  const rows = checkSnapshotEntries(checks, 'entries', epochNumber, entries);
  return { epochNumber, rows };
}

/** `get`'s arguments checked: the epoch and the operator's key (shared with the memory adapter). */
export function checkEpochOperatorKey(operation: string, epoch: number, address: Address) {
  const checks = inputChecks(operation);
  const epochNumber = checks.uint32('epoch', epoch);
  const key = checks.address('address', address);
  return { epochNumber, key };
}

/**
 * `sumWeights`'s arguments checked: the epoch and, when given, the operators to sum (shared with
 * the memory adapter).
 */
export function checkSumWeights(
  operation: string,
  epoch: number,
  options: { operators?: readonly Address[] } | undefined,
) {
  const checks = inputChecks(operation);
  const epochNumber = checks.uint32('epoch', epoch);
  const operators =
    options?.operators === undefined
      ? undefined
      : checks
          .array('operators', options.operators, MAX_LIST_LIMIT)
          .map((address, index) => checks.address(`operators[${index}]`, address));
  return { epochNumber, operators };
}

/** Inserts snapshot rows in one statement (the caller has removed any previous ones). */
export async function insertSnapshotRows(
  context: QueryContext<DB>,
  rows: readonly EpochOperators[],
): Promise<void> {
  if (rows.length === 0) return;
  await context.db
    .insertInto('epoch_operators')
    .values([...rows])
    .execute();
}

export function createEpochOperatorsRepository(
  context: QueryContext<DB>,
): EpochOperatorsRepository {
  return {
    async snapshot(epoch, entries) {
      const operation = 'epochOperators.snapshot';
      const { epochNumber, rows } = checkSnapshot(operation, epoch, entries);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          await tx.db
            .deleteFrom('epoch_operators')
            .where('epoch_number', '=', epochNumber)
            .execute();
          await insertSnapshotRows(tx, rows);
        }),
      );
    },

    async list(epoch) {
      const operation = 'epochOperators.list';
      const epochNumber = inputChecks(operation).uint32('epoch', epoch);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('epoch_operators')
          .selectAll()
          .where('epoch_number', '=', epochNumber)
          .orderBy('operator_address')
          .execute();
        return rows.map(toEpochOperatorRecord);
      });
    },

    async get(epoch, address) {
      const operation = 'epochOperators.get';
      const { epochNumber, key } = checkEpochOperatorKey(operation, epoch, address);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('epoch_operators')
          .selectAll()
          .where('epoch_number', '=', epochNumber)
          .where('operator_address', '=', key)
          .executeTakeFirst();
        return row ? toEpochOperatorRecord(row) : undefined;
      });
    },

    async sumWeights(epoch, options) {
      const operation = 'epochOperators.sumWeights';
      const { epochNumber, operators } = checkSumWeights(operation, epoch, options);
      return runQuery(operation, () => sumSnapshotWeights(context, epochNumber, operators));
    },
  };
}

/** SUM in SQL: NUMERIC arithmetic is exact, and the rows never travel to JavaScript. */
export async function sumSnapshotWeights(
  context: QueryContext<DB>,
  epoch: number,
  operators: readonly string[] | undefined,
): Promise<WeightSum> {
  if (operators !== undefined && operators.length === 0) {
    return { operatorCount: 0, totalWeightWei: 0n };
  }
  let query = context.db
    .selectFrom('epoch_operators')
    .select((eb) => [
      eb.fn.countAll<number>().as('operator_count'),
      eb.fn.coalesce(eb.fn.sum<bigint>('weight'), eb.lit(0)).as('total_weight'),
    ])
    .where('epoch_number', '=', epoch);
  if (operators !== undefined) {
    query = query.where('operator_address', 'in', [...new Set(operators)]);
  }
  const row = await query.executeTakeFirstOrThrow();
  return { operatorCount: Number(row.operator_count), totalWeightWei: BigInt(row.total_weight) };
}
