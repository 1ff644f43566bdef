import type { Selectable } from 'kysely';
import {
  checkEpochState,
  epochStateColumns,
  toEpochStateRecord,
} from '../../store/epoch-state-fields.ts';
import { ForeignKeyViolationError, StoreNotFoundError } from '../../store/errors.ts';
import type { EpochOperators, EpochStates } from '../../store/generated/registry-db.ts';
import {
  type CheckedUpdate,
  checkEpochAdvance,
  type EpochAdvance,
  type EpochAdvanceResult,
  epochOrderError,
} from '../../store/registry/apply-epoch-advance.ts';
import {
  checkEpochOperatorKey,
  checkSnapshot,
  checkSumWeights,
  type EpochOperatorsRepository,
  toEpochOperatorRecord,
  type WeightSum,
} from '../../store/registry/epoch-operators.ts';
import {
  checkEpochListOptions,
  type EpochStatesRepository,
} from '../../store/registry/epoch-states.ts';
import { statusPreconditionError } from '../../store/registry/operators.ts';
import { inputChecks } from '../../store/validate.ts';
import { withOperatorColumns } from './memory-registry-operators.ts';
import {
  epochOperatorKey,
  type MemoryRegistryContext,
  type MemoryRegistryTables,
} from './memory-registry-tables.ts';

type EpochStateRow = Selectable<EpochStates>;
type EpochOperatorRow = Selectable<EpochOperators>;

const byOperatorAddress = (a: EpochOperatorRow, b: EpochOperatorRow) =>
  a.operator_address < b.operator_address ? -1 : a.operator_address > b.operator_address ? 1 : 0;

/** The highest stored epoch's row, if any (`ORDER BY epoch_number DESC LIMIT 1`). */
function latestEpochState(tables: MemoryRegistryTables): EpochStateRow | undefined {
  let latest: EpochStateRow | undefined;
  for (const row of tables.epochStates.values()) {
    if (latest === undefined || row.epoch_number > latest.epoch_number) latest = row;
  }
  return latest;
}

/** `epochStates` (store/registry/epoch-states.ts) over the memory tables. */
export function createMemoryEpochStatesRepository(
  context: MemoryRegistryContext,
): EpochStatesRepository {
  const { tables, clock, run } = context;
  return {
    async get(epoch) {
      const operation = 'epochStates.get';
      const key = inputChecks(operation).uint32('epoch', epoch);
      return run(operation, () => {
        const row = tables.epochStates.get(key);
        return row ? toEpochStateRecord(row) : undefined;
      });
    },

    async getLatest() {
      return run('epochStates.getLatest', () => {
        const row = latestEpochState(tables);
        return row ? toEpochStateRecord(row) : undefined;
      });
    },

    async put(state) {
      const operation = 'epochStates.put';
      const checked = checkEpochState(inputChecks(operation), '', state);
      return run(operation, () => {
        const row = epochStateColumns(checked, new Date(clock.now()));
        tables.epochStates.set(row.epoch_number, row);
        return toEpochStateRecord(row);
      });
    },

    async list(options) {
      const operation = 'epochStates.list';
      const { fromEpoch, limit } = checkEpochListOptions(operation, options);
      return run(operation, () =>
        [...tables.epochStates.values()]
          .filter((row) => row.epoch_number >= fromEpoch)
          .sort((a, b) => a.epoch_number - b.epoch_number)
          .slice(0, limit)
          .map(toEpochStateRecord),
      );
    },
  };
}

/** `epochOperators` (store/registry/epoch-operators.ts) over the memory tables. */
export function createMemoryEpochOperatorsRepository(
  context: MemoryRegistryContext,
): EpochOperatorsRepository {
  const { tables, run } = context;
  return {
    async snapshot(epoch, entries) {
      const operation = 'epochOperators.snapshot';
      const { epochNumber, rows } = checkSnapshot(operation, epoch, entries);
      return run(operation, () => {
        for (const row of snapshotRows(tables, epochNumber)) {
          tables.epochOperators.delete(epochOperatorKey(epochNumber, row.operator_address));
        }
        insertMemorySnapshotRows(tables, operation, rows);
      });
    },

    async list(epoch) {
      const operation = 'epochOperators.list';
      const epochNumber = inputChecks(operation).uint32('epoch', epoch);
      return run(operation, () =>
        snapshotRows(tables, epochNumber).sort(byOperatorAddress).map(toEpochOperatorRecord),
      );
    },

    async get(epoch, address) {
      const operation = 'epochOperators.get';
      const { epochNumber, key } = checkEpochOperatorKey(operation, epoch, address);
      return run(operation, () => {
        const row = tables.epochOperators.get(epochOperatorKey(epochNumber, key));
        return row ? toEpochOperatorRecord(row) : undefined;
      });
    },

    async sumWeights(epoch, options) {
      const operation = 'epochOperators.sumWeights';
      const { epochNumber, operators } = checkSumWeights(operation, epoch, options);
      return run(operation, () => sumMemorySnapshotWeights(tables, epochNumber, operators));
    },
  };
}

function snapshotRows(tables: MemoryRegistryTables, epoch: number): EpochOperatorRow[] {
  return [...tables.epochOperators.values()].filter((row) => row.epoch_number === epoch);
}

/**
 * `insertSnapshotRows` (epoch-operators.ts): the caller has removed any previous rows. Each row's
 * foreign keys are checked as Postgres does, the epoch's first: a failure undoes the whole call.
 */
function insertMemorySnapshotRows(
  tables: MemoryRegistryTables,
  operation: string,
  rows: readonly EpochOperators[],
): void {
  for (const row of rows) {
    if (!tables.epochStates.get(row.epoch_number)) {
      throw missingReference(operation, 'epoch_number', String(row.epoch_number), 'epoch_states');
    }
    if (!tables.operators.get(row.operator_address)) {
      throw missingReference(operation, 'operator_address', row.operator_address, 'operators');
    }
    tables.epochOperators.set(epochOperatorKey(row.epoch_number, row.operator_address), row);
  }
}

/** What Postgres reports for an `epoch_operators` row whose referenced row is not stored. */
function missingReference(
  operation: string,
  column: 'epoch_number' | 'operator_address',
  value: string,
  referencedTable: string,
): ForeignKeyViolationError {
  return new ForeignKeyViolationError(
    operation,
    {
      constraint: `epoch_operators_${column}_fkey`,
      table: 'epoch_operators',
      column: undefined,
      dataType: undefined,
      detail: `Key (${column})=(${value}) is not present in table "${referencedTable}".`,
    },
    undefined,
  );
}

/**
 * `sumSnapshotWeights` (store/registry/epoch-operators.ts) over the memory tables: count and
 * total weight of the epoch's snapshot rows, of `operators` (lowercase addresses) when given.
 * Synchronous: call it inside a `run`.
 */
export function sumMemorySnapshotWeights(
  tables: MemoryRegistryTables,
  epoch: number,
  operators: readonly string[] | undefined,
): WeightSum {
  const rows =
    operators === undefined
      ? snapshotRows(tables, epoch)
      : [...new Set(operators)].flatMap((address) => {
          const row = tables.epochOperators.get(epochOperatorKey(epoch, address));
          return row ? [row] : [];
        });
  // bigint arithmetic is exact, as NUMERIC is.
  const totalWeightWei = rows.reduce((sum, row) => sum + row.weight, 0n);
  return { operatorCount: rows.length, totalWeightWei };
}

/**
 * `applyEpochAdvance` (store/registry/apply-epoch-advance.ts) over the memory tables: the epoch
 * row, the operator updates and the snapshot in one atomic call, with the same guards (epochs in
 * order), idempotency (an epoch already stored is left as it is) and errors.
 */
export async function applyMemoryEpochAdvance(
  context: MemoryRegistryContext,
  advance: EpochAdvance,
): Promise<EpochAdvanceResult> {
  const operation = 'applyEpochAdvance';
  const { state, updates, snapshotRows } = checkEpochAdvance(operation, advance);
  const { tables, clock } = context;

  return context.run(operation, () => {
    const stored = tables.epochStates.get(state.epoch);
    if (stored) return { applied: false, state: toEpochStateRecord(stored) };

    const latest = latestEpochState(tables);
    if (latest !== undefined && latest.epoch_number > state.epoch) {
      throw epochOrderError(operation, state.epoch, latest.epoch_number);
    }

    const now = new Date(clock.now());
    const inserted = epochStateColumns(state, now);
    tables.epochStates.set(state.epoch, inserted);
    updateMemoryOperators(tables, operation, updates, now);
    insertMemorySnapshotRows(tables, operation, snapshotRows);
    return { applied: true, state: toEpochStateRecord(inserted) };
  });
}

/**
 * The advance's operator updates (apply-epoch-advance.ts `updateOperators`). SQL applies them in
 * one statement and then reports the first, in input order, that did not apply; applying them in
 * input order and stopping at the first such one raises the same error, and the call's rollback
 * undoes the rest.
 */
function updateMemoryOperators(
  tables: MemoryRegistryTables,
  operation: string,
  updates: readonly CheckedUpdate[],
  updatedAt: Date,
): void {
  for (const update of updates) {
    const stored = tables.operators.get(update.address);
    if (!stored) throw new StoreNotFoundError(operation, 'operator', update.address);
    if (update.expectedStatus !== undefined && stored.status !== update.expectedStatus) {
      throw statusPreconditionError(
        operation,
        update.address,
        stored.status,
        update.expectedStatus,
      );
    }
    tables.operators.set(
      update.address,
      withOperatorColumns(operation, stored, update.columns, updatedAt),
    );
  }
}
