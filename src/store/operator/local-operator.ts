import type { Selectable } from 'kysely';
import type { Address } from 'viem';
import type { OperatorStatus } from '../../core/operator-status.ts';
import { StoreConflictError } from '../errors.ts';
import type { DB, LocalOperator } from '../generated/operator-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress, storedMs, storedOperatorStatus } from '../stored-values.ts';
import { inputChecks } from '../validate.ts';

/** This node's own operator, as last confirmed by the registry. */
export interface LocalOperatorInput {
  address: Address;
  signingKey: Address;
  activeEpoch: number;
  status: OperatorStatus;
  weightWei: bigint;
}

export interface LocalOperatorRecord extends LocalOperatorInput {
  lastUpdatedAtMs: number;
}

export interface LocalOperatorRepository {
  get(): Promise<LocalOperatorRecord | undefined>;
  /**
   * Stores or updates the operator. A store belongs to one operator: putting another address is a
   * StoreConflictError (a node pointed at someone else's database).
   */
  put(operator: LocalOperatorInput): Promise<LocalOperatorRecord>;
}

export function toLocalOperatorRecord(row: Selectable<LocalOperator>): LocalOperatorRecord {
  return {
    address: storedAddress(row.address),
    signingKey: storedAddress(row.signing_key),
    activeEpoch: row.active_epoch,
    status: storedOperatorStatus(row.current_status),
    weightWei: row.current_weight,
    lastUpdatedAtMs: storedMs(row.last_updated_at),
  };
}

/** The checked row values of `operator`: its lowercase address and the columns a put writes. */
export function checkLocalOperator(operation: string, operator: LocalOperatorInput) {
  const checks = inputChecks(operation);
  checks.require(
    typeof operator === 'object' && operator !== null,
    'operator',
    'expected an object',
  );
  return {
    address: checks.address('address', operator.address),
    values: {
      signing_key: checks.address('signingKey', operator.signingKey),
      active_epoch: checks.uint32('activeEpoch', operator.activeEpoch),
      current_status: checks.operatorStatus('status', operator.status),
      current_weight: checks.uint256('weightWei', operator.weightWei),
    },
  };
}

/** A store belongs to one operator: another address is a node pointed at someone else's data. */
export function checkSameLocalOperator(operation: string, storedAddress: string, address: string) {
  if (storedAddress === address) return;
  throw new StoreConflictError(
    operation,
    'LOCAL_OPERATOR_MISMATCH',
    `this store belongs to operator ${storedAddress}, not ${address}; use a separate schema per operator`,
  );
}

export function createLocalOperatorRepository(context: QueryContext<DB>): LocalOperatorRepository {
  return {
    async get() {
      return runQuery('localOperator.get', async () => {
        const row = await context.db.selectFrom('local_operator').selectAll().executeTakeFirst();
        return row ? toLocalOperatorRecord(row) : undefined;
      });
    },

    async put(operator) {
      const operation = 'localOperator.put';
      const { address, values } = checkLocalOperator(operation, operator);
      return runQuery(operation, () =>
        context.transaction(async (tx) => {
          const stored = await tx.db
            .selectFrom('local_operator')
            .select('address')
            .forUpdate()
            .executeTakeFirst();
          if (stored) checkSameLocalOperator(operation, stored.address, address);
          const now = nowAsDate(tx.clock);
          const row = await tx.db
            .insertInto('local_operator')
            .values({ address, ...values, last_updated_at: now })
            .onConflict((conflict) =>
              conflict.column('address').doUpdateSet({ ...values, last_updated_at: now }),
            )
            .returningAll()
            .executeTakeFirstOrThrow();
          return toLocalOperatorRecord(row);
        }),
      );
    },
  };
}
