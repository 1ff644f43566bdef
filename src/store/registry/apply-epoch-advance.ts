import type { Address } from 'viem';
import type { OperatorStatus } from '../../core/operator-status.ts';
import {
  checkEpochState,
  type EpochStateInput,
  type EpochStateRecord,
  epochStateColumns,
  toEpochStateRecord,
} from '../epoch-state-fields.ts';
import { StoreConflictError, StoreNotFoundError } from '../errors.ts';
import type { DB } from '../generated/registry-db.ts';
import { jsonRecordset } from '../json-recordset.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../validate.ts';
import {
  checkSnapshotEntries,
  type EpochOperatorEntry,
  insertSnapshotRows,
} from './epoch-operators.ts';
import { type OperatorUpdateColumns, statusPreconditionError } from './operators.ts';

/**
 * How one operator changes at the epoch start (SPEC §3 "at each epoch start"): its new status,
 * weight and signing key, e.g. from the core's advanceEpoch result.
 */
export interface OperatorEpochUpdate {
  address: Address;
  status?: OperatorStatus;
  /**
   * Apply only if the operator still has this status; otherwise the whole advance is refused
   * (StoreConflictError) and nothing is written — e.g. a join landed after the advance was
   * computed. Recompute and apply again.
   */
  expectedStatus?: OperatorStatus;
  weightWei?: bigint;
  signingKey?: Address;
}

/** Everything an epoch advance writes (the fields match the core's EpochAdvance). */
export interface EpochAdvance {
  /** The `epoch_states` row. */
  epochState: EpochStateInput;
  operatorUpdates: readonly OperatorEpochUpdate[];
  /** The `epoch_operators` snapshot: the epoch's active operators, weights and signing keys. */
  epochOperators: readonly EpochOperatorEntry[];
}

export interface EpochAdvanceResult {
  /** False when the epoch was already applied: nothing was written. */
  applied: boolean;
  state: EpochStateRecord;
}

export interface CheckedUpdate {
  address: string;
  columns: OperatorUpdateColumns;
  expectedStatus: OperatorStatus | undefined;
}

export function checkUpdates(operation: string, updates: unknown): CheckedUpdate[] {
  const checks = inputChecks(operation);
  const seen = new Set<string>();
  return checks.array('operatorUpdates', updates, MAX_LIST_LIMIT).map((update, index) => {
    const at = `operatorUpdates[${index}]`;
    checks.require(typeof update === 'object' && update !== null, at, 'expected an object');
    const value = update as Partial<Record<keyof OperatorEpochUpdate, unknown>>;
    const address = checks.address(`${at}.address`, value.address);
    checks.require(!seen.has(address), `${at}.address`, `operator ${address} appears twice`);
    seen.add(address);
    const columns: OperatorUpdateColumns = {};
    if (value.status !== undefined) {
      columns.status = checks.operatorStatus(`${at}.status`, value.status);
    }
    if (value.weightWei !== undefined) {
      columns.weight = checks.uint256(`${at}.weightWei`, value.weightWei);
    }
    if (value.signingKey !== undefined) {
      columns.signing_key = checks.address(`${at}.signingKey`, value.signingKey);
    }
    checks.require(
      Object.keys(columns).length > 0,
      at,
      'changes nothing; give status, weightWei or signingKey',
    );
    const expectedStatus =
      value.expectedStatus === undefined
        ? undefined
        : checks.operatorStatus(`${at}.expectedStatus`, value.expectedStatus);
    return { address, columns, expectedStatus };
  });
}

/**
 * An advance checked: the epoch's state, the operator updates and the snapshot rows, in the order
 * their messages name them (shared with the memory adapter).
 */
export function checkEpochAdvance(operation: string, advance: EpochAdvance) {
  const checks = inputChecks(operation);
  checks.require(typeof advance === 'object' && advance !== null, 'advance', 'expected an object');
  const state = checkEpochState(checks, 'epochState', advance.epochState);
  const updates = checkUpdates(operation, advance.operatorUpdates);
  const snapshotRows = checkSnapshotEntries(
    checks,
    'epochOperators',
    state.epoch,
    advance.epochOperators,
  );
  return { state, updates, snapshotRows };
}

/** The refusal of an epoch older than the latest stored one: epochs are applied in order. */
export function epochOrderError(
  operation: string,
  epoch: number,
  latestEpoch: number,
): StoreConflictError {
  return new StoreConflictError(
    operation,
    'EPOCH_ORDER',
    `epoch ${epoch} arrives after epoch ${latestEpoch}; epochs are applied in order`,
  );
}

/** One operator update as `jsonb_to_recordset` reads it (absent fields are null: left as is). */
interface OperatorUpdateRow {
  address: string;
  status: OperatorStatus | null;
  /** Decimal string: JSON numbers would lose uint256 precision. */
  weight: string | null;
  signing_key: string | null;
  expected_status: OperatorStatus | null;
}

/** The same row as SQL sees it (`weight numeric`). */
type OperatorUpdateValues = Omit<OperatorUpdateRow, 'weight'> & { weight: bigint | null };

/**
 * Applies every operator update of an advance in one statement (not one per operator). Each
 * update applies only where its expected status (if any) holds; when any did not apply, the
 * first of them in input order is reported as `updateOperator` reports it — StoreNotFoundError
 * for an unknown operator, StoreConflictError('STATUS_PRECONDITION') for a status that moved —
 * and the caller's transaction rolls the rest back. A status change remembers the status an
 * operator is suspended from and clears it otherwise (operators.ts `suspensionBookkeeping`).
 */
async function updateOperators(
  context: QueryContext<DB>,
  operation: string,
  updates: readonly CheckedUpdate[],
): Promise<void> {
  if (updates.length === 0) return;
  const rows: OperatorUpdateRow[] = updates.map((update) => ({
    address: update.address,
    status: (update.columns.status as OperatorStatus | undefined) ?? null,
    weight: update.columns.weight === undefined ? null : update.columns.weight.toString(),
    signing_key: update.columns.signing_key ?? null,
    expected_status: update.expectedStatus ?? null,
  }));
  const updated = await context.db
    .updateTable('operators')
    .from(
      jsonRecordset<OperatorUpdateValues>(
        rows,
        'address text, status text, weight numeric, signing_key text, expected_status text',
      ),
    )
    .set((eb) => ({
      status: eb.fn.coalesce('v.status', 'operators.status'),
      status_before_suspension: eb
        .case()
        .when('v.status', 'is', null)
        .then(eb.ref('operators.status_before_suspension'))
        .when('v.status', '=', 'suspended')
        .then(
          eb
            .case()
            .when('operators.status', '=', 'suspended')
            .then(eb.ref('operators.status_before_suspension'))
            .else(eb.ref('operators.status'))
            .end(),
        )
        .else(null)
        .end(),
      weight: eb.fn.coalesce('v.weight', 'operators.weight'),
      signing_key: eb.fn.coalesce('v.signing_key', 'operators.signing_key'),
      updated_at: nowAsDate(context.clock),
    }))
    .whereRef('operators.address', '=', 'v.address')
    .where((eb) =>
      eb.or([
        eb('v.expected_status', 'is', null),
        eb('operators.status', '=', eb.ref('v.expected_status')),
      ]),
    )
    .returning('operators.address')
    .execute();
  if (updated.length === updates.length) return;
  const applied = new Set(updated.map((row) => row.address));
  const first = updates.find((update) => !applied.has(update.address));
  if (!first) return;
  const current = await context.db
    .selectFrom('operators')
    .select('status')
    .where('address', '=', first.address)
    .executeTakeFirst();
  if (!current) throw new StoreNotFoundError(operation, 'operator', first.address);
  throw statusPreconditionError(operation, first.address, current.status, first.expectedStatus);
}

/**
 * Writes an epoch advance in one transaction: the epoch_states row, the operators' new statuses,
 * weights and signing keys, and the epoch_operators snapshot. Either all of it is stored or none.
 * Idempotent: an epoch already stored is left as it is (`applied: false`), so a registry that
 * restarts mid-advance, or two registries racing, apply each epoch once. Epochs must arrive in
 * order: one older than the latest stored epoch is refused.
 */
export async function applyEpochAdvance(
  context: QueryContext<DB>,
  advance: EpochAdvance,
): Promise<EpochAdvanceResult> {
  const operation = 'applyEpochAdvance';
  const { state, updates, snapshotRows } = checkEpochAdvance(operation, advance);

  return runQuery(operation, () =>
    context.transaction(async (tx) => {
      const stored = await tx.db
        .selectFrom('epoch_states')
        .selectAll()
        .where('epoch_number', '=', state.epoch)
        .executeTakeFirst();
      if (stored) return { applied: false, state: toEpochStateRecord(stored) };

      const latest = await tx.db
        .selectFrom('epoch_states')
        .select((eb) => eb.fn.max('epoch_number').as('epoch'))
        .executeTakeFirst();
      if (latest?.epoch != null && latest.epoch > state.epoch) {
        throw epochOrderError(operation, state.epoch, latest.epoch);
      }

      // Inserted first: a concurrent advance of the same epoch waits on this key, then finds it.
      const inserted = await tx.db
        .insertInto('epoch_states')
        .values(epochStateColumns(state, nowAsDate(tx.clock)))
        .onConflict((conflict) => conflict.column('epoch_number').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted) {
        const winner = await tx.db
          .selectFrom('epoch_states')
          .selectAll()
          .where('epoch_number', '=', state.epoch)
          .executeTakeFirstOrThrow();
        return { applied: false, state: toEpochStateRecord(winner) };
      }

      await updateOperators(tx, operation, updates);
      await insertSnapshotRows(tx, snapshotRows);
      return { applied: true, state: toEpochStateRecord(inserted) };
    }),
  );
}
