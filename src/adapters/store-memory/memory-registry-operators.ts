import type { Selectable } from 'kysely';
import { CheckViolationError, StoreNotFoundError } from '../../store/errors.ts';
import type { Operators } from '../../store/generated/registry-db.ts';
import {
  type CheckedOperatorUpdate,
  checkMiss,
  checkOperatorAddresses,
  checkOperatorUpdate,
  checkRegistration,
  checkStatusFilter,
  checkStatusUpdate,
  emptyStatusCounts,
  missOutcome,
  type OperatorRecord,
  type OperatorsRepository,
  type OperatorUpdateColumns,
  statusPreconditionError,
  toOperatorRecord,
} from '../../store/registry/operators.ts';
import { storedOperatorStatus } from '../../store/stored-values.ts';
import { inputChecks } from '../../store/validate.ts';
import {
  deriveMemoryOperatorCounters,
  insertMemoryOperatorFacts,
} from './memory-registry-operator-facts.ts';
import type { MemoryRegistryContext, MemoryRegistryTables } from './memory-registry-tables.ts';

export {
  createMemoryOperatorFactsRepository,
  deriveMemoryOperatorCounters,
  insertMemoryOperatorFacts,
} from './memory-registry-operator-facts.ts';

type OperatorRow = Selectable<Operators>;

/** `ORDER BY address`: lowercase hex of one length sorts as the number. */
const byAddress = (a: OperatorRow, b: OperatorRow) =>
  a.address < b.address ? -1 : a.address > b.address ? 1 : 0;

/** `operators` (store/registry/operators.ts) over the memory tables. */
export function createMemoryOperatorsRepository(
  context: MemoryRegistryContext,
): OperatorsRepository {
  const { tables, clock, run } = context;
  const now = () => new Date(clock.now());
  const sortedRecords = (rows: OperatorRow[]) => rows.sort(byAddress).map(toOperatorRecord);

  return {
    async upsert(registration) {
      const operation = 'operators.upsert';
      const { address, registrationColumns } = checkRegistration(operation, registration);
      return run(operation, () => {
        const updatedAt = now();
        const stored = tables.operators.get(address);
        if (stored) {
          // A re-registration: counters, peer id and (when not given) weight are kept.
          const row: OperatorRow = { ...stored, ...registrationColumns, updated_at: updatedAt };
          tables.operators.set(address, row);
          return toOperatorRecord(row);
        }
        const row: OperatorRow = {
          address,
          weight: 0n,
          missing: 0,
          successful_response_count: 0,
          peer_id: null,
          ...registrationColumns,
          created_at: updatedAt,
          updated_at: updatedAt,
        };
        tables.operators.set(address, row);
        // Facts replicated from another registry may name it already: its counters start there.
        const derived = deriveMemoryOperatorCounters(
          tables,
          updatedAt.getTime(),
          [address],
          undefined,
        );
        return derived.get(address)?.operator ?? toOperatorRecord(row);
      });
    },

    async get(address) {
      const operation = 'operators.get';
      const key = inputChecks(operation).address('address', address);
      return run(operation, () => {
        const row = tables.operators.get(key);
        return row ? toOperatorRecord(row) : undefined;
      });
    },

    async getBySigningKey(signingKey) {
      const operation = 'operators.getBySigningKey';
      const key = inputChecks(operation).address('signingKey', signingKey);
      return run(operation, () => {
        const [first] = [...tables.operators.values()]
          .filter((row) => row.signing_key === key)
          .sort(byAddress);
        return first ? toOperatorRecord(first) : undefined;
      });
    },

    async list() {
      return run('operators.list', () => sortedRecords([...tables.operators.values()]));
    },

    async listByStatus(status) {
      const operation = 'operators.listByStatus';
      const statuses: string[] = checkStatusFilter(operation, status);
      if (statuses.length === 0) return Promise.resolve([]);
      return run(operation, () =>
        sortedRecords(
          [...tables.operators.values()].filter((row) => statuses.includes(row.status)),
        ),
      );
    },

    async countByStatus() {
      return run('operators.countByStatus', () => {
        const counts = emptyStatusCounts();
        for (const row of tables.operators.values()) counts[storedOperatorStatus(row.status)] += 1;
        return counts;
      });
    },

    async updateStatus(address, status, precondition) {
      const operation = 'operators.updateStatus';
      const update = checkStatusUpdate(operation, address, status, precondition);
      return run(operation, () => updateMemoryOperator(tables, now(), operation, update));
    },

    async update(address, patch, precondition) {
      const operation = 'operators.update';
      const update = checkOperatorUpdate(operation, address, patch, precondition);
      return run(operation, () => updateMemoryOperator(tables, now(), operation, update));
    },

    async recordMiss(address, options) {
      const operation = 'operators.recordMiss';
      const { key, suspendAtMisses, taskId } = checkMiss(operation, address, options);
      return run(operation, () => {
        if (!tables.operators.get(key)) throw new StoreNotFoundError(operation, 'operator', key);
        const nowMs = clock.now();
        // The miss is a replicated fact keyed by (task, operator): a second miss of the same
        // task (here, or collected by another registry) counts nothing.
        insertMemoryOperatorFacts(tables, nowMs, [{ kind: 'missed', operator: key, taskId }]);
        const derived = deriveMemoryOperatorCounters(tables, nowMs, [key], suspendAtMisses);
        return missOutcome(operation, key, derived.get(key));
      });
    },

    async recordSuccessfulResponses(addresses) {
      const operation = 'operators.recordSuccessfulResponses';
      const keys = checkOperatorAddresses(operation, addresses);
      if (keys.length === 0) return Promise.resolve();
      return run(operation, () => {
        const missing = keys.filter((key) => !tables.operators.get(key));
        if (missing.length > 0) {
          throw new StoreNotFoundError(operation, 'operator', missing.join(', '));
        }
        const updatedAt = now();
        for (const key of keys) {
          const stored = tables.operators.get(key);
          if (!stored) continue;
          tables.operators.set(key, {
            ...stored,
            successful_response_count: stored.successful_response_count + 1,
            updated_at: updatedAt,
          });
        }
      });
    },
  };
}

/**
 * `updateOperator` (store/registry/operators.ts) over the memory tables: applies `columns` to one
 * operator, honouring an expected-status precondition, with the same errors.
 */
function updateMemoryOperator(
  tables: MemoryRegistryTables,
  updatedAt: Date,
  operation: string,
  { key: address, columns, expectedStatus }: CheckedOperatorUpdate,
): OperatorRecord {
  const stored = tables.operators.get(address);
  if (!stored) throw new StoreNotFoundError(operation, 'operator', address);
  if (expectedStatus !== undefined && stored.status !== expectedStatus) {
    throw statusPreconditionError(operation, address, stored.status, expectedStatus);
  }
  const row = withOperatorColumns(operation, stored, columns, updatedAt);
  tables.operators.set(address, row);
  return toOperatorRecord(row);
}

/**
 * The operator row with `columns` applied, as SQL's UPDATE sets them: a status change that does
 * not say what to remember remembers the status an operator is suspended from and forgets it on
 * any other status (operators.ts `suspensionBookkeeping`); the result must pass the table's
 * CHECK on `status_before_suspension`. Used by the epoch advance too.
 */
export function withOperatorColumns(
  operation: string,
  stored: OperatorRow,
  columns: OperatorUpdateColumns,
  updatedAt: Date,
): OperatorRow {
  const row: OperatorRow = { ...stored, ...columns, updated_at: updatedAt };
  if (columns.status !== undefined && columns.status_before_suspension === undefined) {
    const suspendedFrom =
      stored.status === 'suspended' ? stored.status_before_suspension : stored.status;
    row.status_before_suspension = columns.status === 'suspended' ? suspendedFrom : null;
  }
  if (row.status_before_suspension !== null && row.status !== 'suspended') {
    throw new CheckViolationError(
      operation,
      {
        constraint: 'operators_status_before_suspension_check',
        table: 'operators',
        column: undefined,
        dataType: undefined,
        detail: undefined,
      },
      undefined,
    );
  }
  return row;
}
