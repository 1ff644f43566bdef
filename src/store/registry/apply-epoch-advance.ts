import type { Address } from 'viem';
import type { OperatorStatus } from '../../core/operator-status.ts';
import {
  checkEpochState,
  type EpochStateInput,
  type EpochStateRecord,
  epochStateColumns,
  toEpochStateRecord,
} from '../epoch-state-fields.ts';
import { StoreConflictError } from '../errors.ts';
import type { DB } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../validate.ts';
import {
  checkSnapshotEntries,
  type EpochOperatorEntry,
  insertSnapshotRows,
} from './epoch-operators.ts';
import { type OperatorUpdateColumns, updateOperator } from './operators.ts';

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

interface CheckedUpdate {
  address: string;
  columns: OperatorUpdateColumns;
  expectedStatus: OperatorStatus | undefined;
}

function checkUpdates(operation: string, updates: unknown): CheckedUpdate[] {
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
        throw new StoreConflictError(
          operation,
          'EPOCH_ORDER',
          `epoch ${state.epoch} arrives after epoch ${latest.epoch}; epochs are applied in order`,
        );
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

      for (const update of updates) {
        await updateOperator(tx, operation, update.address, update.columns, update.expectedStatus);
      }
      await insertSnapshotRows(tx, snapshotRows);
      return { applied: true, state: toEpochStateRecord(inserted) };
    }),
  );
}
