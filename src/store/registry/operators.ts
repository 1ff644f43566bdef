import { type Selectable, sql } from 'kysely';
import type { Address, Hex } from 'viem';
import { OPERATOR_STATUSES, type OperatorStatus } from '../../core/operator-status.ts';
import { StoreConflictError, StoreInputError, StoreNotFoundError } from '../errors.ts';
import type { DB, Operators } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress, storedMs, storedOneOf, storedOperatorStatus } from '../stored-values.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../validate.ts';
import { type DerivedOperator, deriveOperatorCounters } from './operator-counters.ts';
import { insertOperatorFacts } from './operator-facts.ts';

/** Any status but `suspended`: what an operator can be suspended from. */
export type UnsuspendedStatus = Exclude<OperatorStatus, 'suspended'>;

export const UNSUSPENDED_STATUSES: readonly UnsuspendedStatus[] = OPERATOR_STATUSES.filter(
  (status): status is UnsuspendedStatus => status !== 'suspended',
);

/**
 * A registered operator as the registry tracks it (SPEC §3 lifecycle). A superset of the core's
 * OperatorRecord, so records go straight into the core's lifecycle functions.
 */
export interface OperatorRecord {
  address: Address;
  signingKey: Address;
  registeredAtBlockNumber: bigint;
  registeredAtTimestampSec: bigint;
  activeEpoch: number;
  exitEpoch: number | null;
  status: OperatorStatus;
  weightWei: bigint;
  /** Tasks not answered within the response timeout; 5 → suspended. */
  missing: number;
  successfulResponseCount: number;
  /** While suspended: the status it was suspended from; otherwise null. */
  statusBeforeSuspension: UnsuspendedStatus | null;
  /** libp2p peer id from the JoinNetwork request. */
  peerId: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What an OperatorRegistered event (plus the epoch manager) says about an operator. */
export interface OperatorRegistration {
  address: Address;
  signingKey: Address;
  registeredAtBlockNumber: bigint;
  registeredAtTimestampSec: bigint;
  activeEpoch: number;
  status: OperatorStatus;
  /** Default null. */
  exitEpoch?: number | null;
  /** Default 0 for a new operator; an existing operator keeps its weight when omitted. */
  weightWei?: bigint;
  /** Only with status `suspended`; default null. */
  statusBeforeSuspension?: UnsuspendedStatus | null;
}

/**
 * Fields a lifecycle step changes; omitted fields are left as they are. Changing `status` without
 * `statusBeforeSuspension` keeps that column right by itself: suspending records the status it
 * came from, any other status clears it.
 */
export interface OperatorPatch {
  status?: OperatorStatus;
  statusBeforeSuspension?: UnsuspendedStatus | null;
  weightWei?: bigint;
  signingKey?: Address;
  exitEpoch?: number | null;
  peerId?: string | null;
  /** Reset by the admin action that lifts a suspension. */
  missing?: number;
}

export interface StatusPrecondition {
  /** Apply only if the operator currently has this status; otherwise StoreConflictError. */
  expectedStatus?: OperatorStatus;
}

export interface OperatorsRepository {
  /**
   * Inserts the operator or, for a re-registration, overwrites its registration fields. Counters
   * (`missing`, `successfulResponseCount`) are kept.
   */
  upsert(registration: OperatorRegistration): Promise<OperatorRecord>;
  get(address: Address): Promise<OperatorRecord | undefined>;
  getBySigningKey(signingKey: Address): Promise<OperatorRecord | undefined>;
  /** All operators, ascending by address as a number (the order signers are sorted in). */
  list(): Promise<OperatorRecord[]>;
  listByStatus(status: OperatorStatus | readonly OperatorStatus[]): Promise<OperatorRecord[]>;
  countByStatus(): Promise<Record<OperatorStatus, number>>;
  updateStatus(
    address: Address,
    status: OperatorStatus,
    precondition?: StatusPrecondition,
  ): Promise<OperatorRecord>;
  update(
    address: Address,
    patch: OperatorPatch,
    precondition?: StatusPrecondition,
  ): Promise<OperatorRecord>;
  /**
   * Counts one missed task (the core's recordMissedResponse, done atomically in the database):
   * the operator becomes `suspended`, remembering the status it had, when `missing` reaches
   * `suspendAtMisses`. `suspendedNow` is true only for the miss that suspended it. The miss is
   * stored as an `operatorFacts` fact keyed by `(taskId, operator)` and the counter derived from
   * the facts, so the same task missed twice counts once.
   */
  recordMiss(
    address: Address,
    options: { suspendAtMisses: number; taskId: Hex },
  ): Promise<{ operator: OperatorRecord; suspendedNow: boolean }>;
  /**
   * `successfulResponseCount += 1` for each address; all or none (unknown address → NotFound).
   * Not a replicated fact (node code completes tasks through `completeTask`, which stores
   * `succeeded` facts): the next derivation from the operator's facts replaces this count.
   */
  recordSuccessfulResponses(addresses: readonly Address[]): Promise<void>;
}

/** A bound on list arguments: an AVS has hundreds of operators, not tens of thousands. */
const MAX_OPERATORS_PER_CALL = MAX_LIST_LIMIT;

export function toOperatorRecord(row: Selectable<Operators>): OperatorRecord {
  return {
    address: storedAddress(row.address),
    signingKey: storedAddress(row.signing_key),
    registeredAtBlockNumber: row.registered_at_block_number,
    registeredAtTimestampSec: row.registered_at_timestamp_sec,
    activeEpoch: row.active_epoch,
    exitEpoch: row.exit_epoch,
    status: storedOperatorStatus(row.status),
    weightWei: row.weight,
    missing: row.missing,
    successfulResponseCount: row.successful_response_count,
    statusBeforeSuspension:
      row.status_before_suspension === null
        ? null
        : storedOneOf(row.status_before_suspension, UNSUSPENDED_STATUSES),
    peerId: row.peer_id,
    createdAtMs: storedMs(row.created_at),
    updatedAtMs: storedMs(row.updated_at),
  };
}

export type OperatorUpdateColumns = Partial<
  Pick<
    Operators,
    'status' | 'status_before_suspension' | 'signing_key' | 'exit_epoch' | 'peer_id'
  > & {
    weight: bigint;
    missing: number;
  }
>;

export function checkPatch(operation: string, patch: unknown): OperatorUpdateColumns {
  const checks = inputChecks(operation);
  checks.require(typeof patch === 'object' && patch !== null, 'patch', 'expected an object');
  const input = patch as Partial<Record<keyof OperatorPatch, unknown>>;
  const columns: OperatorUpdateColumns = {};
  if (input.status !== undefined) columns.status = checks.operatorStatus('status', input.status);
  if (input.statusBeforeSuspension !== undefined) {
    columns.status_before_suspension =
      input.statusBeforeSuspension === null
        ? null
        : checks.oneOf(
            'statusBeforeSuspension',
            input.statusBeforeSuspension,
            UNSUSPENDED_STATUSES,
          );
    checks.require(
      columns.status_before_suspension === null ||
        columns.status === undefined ||
        columns.status === 'suspended',
      'statusBeforeSuspension',
      'is only kept while the operator is suspended',
    );
  }
  if (input.weightWei !== undefined) columns.weight = checks.uint256('weightWei', input.weightWei);
  if (input.signingKey !== undefined) {
    columns.signing_key = checks.address('signingKey', input.signingKey);
  }
  if (input.exitEpoch !== undefined) {
    columns.exit_epoch =
      input.exitEpoch === null ? null : checks.uint32('exitEpoch', input.exitEpoch);
  }
  if (input.peerId !== undefined) {
    columns.peer_id = input.peerId === null ? null : checks.text('peerId', input.peerId, 128);
  }
  if (input.missing !== undefined) columns.missing = checks.counter('missing', input.missing);
  if (Object.keys(columns).length === 0) {
    throw new StoreInputError(operation, 'patch', 'changes nothing; give at least one field');
  }
  return columns;
}

export function checkPrecondition(
  operation: string,
  precondition: StatusPrecondition | undefined,
): OperatorStatus | undefined {
  if (precondition?.expectedStatus === undefined) return undefined;
  return inputChecks(operation).operatorStatus('expectedStatus', precondition.expectedStatus);
}

/**
 * The statuses `listByStatus` filters on (one status or a list of them), checked. Shared with the
 * memory adapter so both refuse the same arguments.
 */
export function checkStatusFilter(
  operation: string,
  status: OperatorStatus | readonly OperatorStatus[],
): OperatorStatus[] {
  const checks = inputChecks(operation);
  return Array.isArray(status)
    ? checks
        .array('status', status, OPERATOR_STATUSES.length)
        .map((item, index) => checks.operatorStatus(`status[${index}]`, item))
    : [checks.operatorStatus('status', status)];
}

/** `countByStatus`'s starting point: every status, counted 0 (shared with the memory adapter). */
export function emptyStatusCounts(): Record<OperatorStatus, number> {
  return Object.fromEntries(OPERATOR_STATUSES.map((status) => [status, 0])) as Record<
    OperatorStatus,
    number
  >;
}

/** The checked arguments of an operator update: which row, what to set, under what precondition. */
export interface CheckedOperatorUpdate {
  key: string;
  columns: OperatorUpdateColumns;
  expectedStatus: OperatorStatus | undefined;
}

/** `updateStatus`'s arguments checked, in order (shared with the memory adapter). */
export function checkStatusUpdate(
  operation: string,
  address: Address,
  status: OperatorStatus,
  precondition: StatusPrecondition | undefined,
): CheckedOperatorUpdate {
  const checks = inputChecks(operation);
  const key = checks.address('address', address);
  const columns = { status: checks.operatorStatus('status', status) };
  return { key, columns, expectedStatus: checkPrecondition(operation, precondition) };
}

/** `update`'s arguments checked, in order (shared with the memory adapter). */
export function checkOperatorUpdate(
  operation: string,
  address: Address,
  patch: OperatorPatch,
  precondition: StatusPrecondition | undefined,
): CheckedOperatorUpdate {
  const key = inputChecks(operation).address('address', address);
  const columns = checkPatch(operation, patch);
  return { key, columns, expectedStatus: checkPrecondition(operation, precondition) };
}

/** `recordMiss`'s arguments checked (shared with the memory adapter). */
export function checkMiss(
  operation: string,
  address: Address,
  options: { suspendAtMisses: number; taskId: Hex },
) {
  const checks = inputChecks(operation);
  const key = checks.address('address', address);
  const suspendAtMisses = checks.positiveInteger('suspendAtMisses', options?.suspendAtMisses, 1000);
  const taskId = checks.bytes32('taskId', options?.taskId);
  return { key, suspendAtMisses, taskId };
}

/**
 * `recordMiss`'s result from the operator's derivation after the miss: the operator as it is now
 * and whether this miss suspended it (NotFound when the derivation did not find it).
 */
export function missOutcome(
  operation: string,
  key: string,
  derived: DerivedOperator | undefined,
): { operator: OperatorRecord; suspendedNow: boolean } {
  if (!derived) throw new StoreNotFoundError(operation, 'operator', key);
  return { operator: derived.operator, suspendedNow: derived.suspendedNow };
}

/**
 * `recordSuccessfulResponses`'s addresses checked, lowercase and without repeats (shared with the
 * memory adapter).
 */
export function checkOperatorAddresses(operation: string, addresses: readonly Address[]): string[] {
  const checks = inputChecks(operation);
  return [
    ...new Set(
      checks
        .array('addresses', addresses, MAX_OPERATORS_PER_CALL)
        .map((address, index) => checks.address(`addresses[${index}]`, address)),
    ),
  ];
}

/**
 * The refusal of an update whose expected status does not hold: one message for `update`,
 * `updateStatus` and the epoch advance, in SQL and in memory.
 */
export function statusPreconditionError(
  operation: string,
  address: string,
  current: string,
  expected: OperatorStatus | undefined,
): StoreConflictError {
  return new StoreConflictError(
    operation,
    'STATUS_PRECONDITION',
    `operator ${address} is ${current}, not ${expected}`,
  );
}

/** The row's current status, unless it is already suspended (then the one it came from). */
const STATUS_BEING_SUSPENDED = sql<string | null>`
  CASE WHEN status = 'suspended' THEN status_before_suspension ELSE status END`;

/**
 * When a status change does not say what to remember, remember the status an operator is
 * suspended from and forget it on any other status.
 */
function suspensionBookkeeping(columns: OperatorUpdateColumns) {
  if (columns.status === undefined || columns.status_before_suspension !== undefined) return {};
  return {
    status_before_suspension: columns.status === 'suspended' ? STATUS_BEING_SUSPENDED : null,
  };
}

/**
 * Validates a registration into the operator's key and the columns a re-registration overwrites
 * (`weight` only when given: an existing operator keeps its own).
 */
export function checkRegistration(operation: string, registration: OperatorRegistration) {
  const checks = inputChecks(operation);
  checks.require(
    typeof registration === 'object' && registration !== null,
    'registration',
    'expected an object',
  );
  const address = checks.address('address', registration.address);
  const signingKey = checks.address('signingKey', registration.signingKey);
  const registeredAtBlockNumber = checks.uint64(
    'registeredAtBlockNumber',
    registration.registeredAtBlockNumber,
  );
  const registeredAtTimestampSec = checks.uint256(
    'registeredAtTimestampSec',
    registration.registeredAtTimestampSec,
  );
  const activeEpoch = checks.uint32('activeEpoch', registration.activeEpoch);
  const status = checks.operatorStatus('status', registration.status);
  const exitEpoch =
    registration.exitEpoch === undefined || registration.exitEpoch === null
      ? null
      : checks.uint32('exitEpoch', registration.exitEpoch);
  const weight =
    registration.weightWei === undefined
      ? undefined
      : checks.uint256('weightWei', registration.weightWei);
  const statusBeforeSuspension =
    registration.statusBeforeSuspension === undefined ||
    registration.statusBeforeSuspension === null
      ? null
      : checks.oneOf(
          'statusBeforeSuspension',
          registration.statusBeforeSuspension,
          UNSUSPENDED_STATUSES,
        );
  checks.require(
    statusBeforeSuspension === null || status === 'suspended',
    'statusBeforeSuspension',
    'is only kept while the operator is suspended',
  );
  const registrationColumns = {
    signing_key: signingKey,
    registered_at_block_number: registeredAtBlockNumber,
    registered_at_timestamp_sec: registeredAtTimestampSec,
    active_epoch: activeEpoch,
    exit_epoch: exitEpoch,
    status,
    status_before_suspension: statusBeforeSuspension,
    ...(weight === undefined ? {} : { weight }),
  };
  return { address, registrationColumns };
}

/** Applies `columns` to one operator, honouring an expected-status precondition. */
export async function updateOperator(
  context: QueryContext<DB>,
  operation: string,
  address: string,
  columns: OperatorUpdateColumns,
  expectedStatus: OperatorStatus | undefined,
): Promise<OperatorRecord> {
  let query = context.db
    .updateTable('operators')
    .set({
      ...suspensionBookkeeping(columns),
      ...columns,
      updated_at: nowAsDate(context.clock),
    })
    .where('address', '=', address);
  if (expectedStatus !== undefined) query = query.where('status', '=', expectedStatus);
  const row = await query.returningAll().executeTakeFirst();
  if (row) return toOperatorRecord(row);
  const current = await context.db
    .selectFrom('operators')
    .select('status')
    .where('address', '=', address)
    .executeTakeFirst();
  if (!current) throw new StoreNotFoundError(operation, 'operator', address);
  throw statusPreconditionError(operation, address, current.status, expectedStatus);
}

export function createOperatorsRepository(context: QueryContext<DB>): OperatorsRepository {
  return {
    async upsert(registration) {
      const operation = 'operators.upsert';
      const { address, registrationColumns } = checkRegistration(operation, registration);
      return runQuery(operation, async () => {
        const now = nowAsDate(context.clock);
        const existed = await context.db
          .selectFrom('operators')
          .select('address')
          .where('address', '=', address)
          .executeTakeFirst();
        const row = await context.db
          .insertInto('operators')
          .values({ address, ...registrationColumns, created_at: now, updated_at: now })
          .onConflict((conflict) =>
            conflict.column('address').doUpdateSet({ ...registrationColumns, updated_at: now }),
          )
          .returningAll()
          .executeTakeFirstOrThrow();
        if (existed) return toOperatorRecord(row);
        // Facts replicated from another registry may name it already: its counters start there.
        const derived = await deriveOperatorCounters(context, [address], undefined);
        return derived.get(address)?.operator ?? toOperatorRecord(row);
      });
    },

    async get(address) {
      const operation = 'operators.get';
      const key = inputChecks(operation).address('address', address);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('operators')
          .selectAll()
          .where('address', '=', key)
          .executeTakeFirst();
        return row ? toOperatorRecord(row) : undefined;
      });
    },

    async getBySigningKey(signingKey) {
      const operation = 'operators.getBySigningKey';
      const key = inputChecks(operation).address('signingKey', signingKey);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('operators')
          .selectAll()
          .where('signing_key', '=', key)
          .orderBy('address')
          .executeTakeFirst();
        return row ? toOperatorRecord(row) : undefined;
      });
    },

    async list() {
      return runQuery('operators.list', async () => {
        const rows = await context.db
          .selectFrom('operators')
          .selectAll()
          .orderBy('address')
          .execute();
        return rows.map(toOperatorRecord);
      });
    },

    async listByStatus(status) {
      const operation = 'operators.listByStatus';
      const statuses = checkStatusFilter(operation, status);
      if (statuses.length === 0) return Promise.resolve([]);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('operators')
          .selectAll()
          .where('status', 'in', statuses)
          .orderBy('address')
          .execute();
        return rows.map(toOperatorRecord);
      });
    },

    async countByStatus() {
      return runQuery('operators.countByStatus', async () => {
        const rows = await context.db
          .selectFrom('operators')
          .select((eb) => ['status', eb.fn.countAll<number>().as('count')])
          .groupBy('status')
          .execute();
        const counts = emptyStatusCounts();
        for (const row of rows) counts[storedOperatorStatus(row.status)] = Number(row.count);
        return counts;
      });
    },

    async updateStatus(address, status, precondition) {
      const operation = 'operators.updateStatus';
      const update = checkStatusUpdate(operation, address, status, precondition);
      return runQuery(operation, () =>
        updateOperator(context, operation, update.key, update.columns, update.expectedStatus),
      );
    },

    async update(address, patch, precondition) {
      const operation = 'operators.update';
      const update = checkOperatorUpdate(operation, address, patch, precondition);
      return runQuery(operation, () =>
        updateOperator(context, operation, update.key, update.columns, update.expectedStatus),
      );
    },

    async recordMiss(address, options) {
      const operation = 'operators.recordMiss';
      const { key, suspendAtMisses, taskId } = checkMiss(operation, address, options);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const exists = await tx.db
            .selectFrom('operators')
            .select('address')
            .where('address', '=', key)
            .executeTakeFirst();
          if (!exists) throw new StoreNotFoundError(operation, 'operator', key);
          // The miss is a replicated fact keyed by (task, operator): a second miss of the same
          // task (here, or collected by another registry) counts nothing.
          await insertOperatorFacts(tx, [{ kind: 'missed', operator: key, taskId }]);
          const derived = await deriveOperatorCounters(tx, [key], suspendAtMisses);
          return missOutcome(operation, key, derived.get(key));
        }),
      );
    },

    async recordSuccessfulResponses(addresses) {
      const operation = 'operators.recordSuccessfulResponses';
      const keys = checkOperatorAddresses(operation, addresses);
      if (keys.length === 0) return Promise.resolve();
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const updated = await tx.db
            .updateTable('operators')
            .set((eb) => ({
              successful_response_count: eb('successful_response_count', '+', 1),
              updated_at: nowAsDate(tx.clock),
            }))
            .where('address', 'in', keys)
            .returning('address')
            .execute();
          if (updated.length !== keys.length) {
            const found = new Set(updated.map((row) => row.address));
            const missing = keys.filter((key) => !found.has(key));
            throw new StoreNotFoundError(operation, 'operator', missing.join(', '));
          }
        }),
      );
    },
  };
}
