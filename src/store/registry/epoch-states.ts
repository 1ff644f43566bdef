import {
  checkEpochState,
  type EpochStateInput,
  type EpochStateRecord,
  epochStateColumns,
  toEpochStateRecord,
} from '../epoch-state-fields.ts';
import type { DB } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { inputChecks, MAX_LIST_LIMIT } from '../validate.ts';

export interface EpochStatesRepository {
  get(epoch: number): Promise<EpochStateRecord | undefined>;
  /** The highest epoch stored, if any. */
  getLatest(): Promise<EpochStateRecord | undefined>;
  /**
   * Inserts or overwrites one epoch's row on its own. An epoch advance goes through
   * `applyEpochAdvance`, which also writes operators and the snapshot atomically.
   */
  put(state: EpochStateInput): Promise<EpochStateRecord>;
  /** Epochs ascending from `fromEpoch` (default 0), at most `limit`. */
  list(options: { fromEpoch?: number; limit: number }): Promise<EpochStateRecord[]>;
}

/** `list`'s options checked, `fromEpoch` 0 when not given (shared with the memory adapter). */
export function checkEpochListOptions(
  operation: string,
  options: { fromEpoch?: number; limit: number },
) {
  const checks = inputChecks(operation);
  const fromEpoch =
    options?.fromEpoch === undefined ? 0 : checks.uint32('fromEpoch', options.fromEpoch);
  const limit = checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT);
  return { fromEpoch, limit };
}

export function createEpochStatesRepository(context: QueryContext<DB>): EpochStatesRepository {
  return {
    async get(epoch) {
      const operation = 'epochStates.get';
      const key = inputChecks(operation).uint32('epoch', epoch);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('epoch_states')
          .selectAll()
          .where('epoch_number', '=', key)
          .executeTakeFirst();
        return row ? toEpochStateRecord(row) : undefined;
      });
    },

    async getLatest() {
      return runQuery('epochStates.getLatest', async () => {
        const row = await context.db
          .selectFrom('epoch_states')
          .selectAll()
          .orderBy('epoch_number', 'desc')
          .limit(1)
          .executeTakeFirst();
        return row ? toEpochStateRecord(row) : undefined;
      });
    },

    async put(state) {
      const operation = 'epochStates.put';
      const checked = checkEpochState(inputChecks(operation), '', state);
      return runQuery(operation, async () => {
        const columns = epochStateColumns(checked, nowAsDate(context.clock));
        const { epoch_number: _epoch, ...values } = columns;
        const row = await context.db
          .insertInto('epoch_states')
          .values(columns)
          .onConflict((conflict) => conflict.column('epoch_number').doUpdateSet(values))
          .returningAll()
          .executeTakeFirstOrThrow();
        return toEpochStateRecord(row);
      });
    },

    async list(options) {
      const operation = 'epochStates.list';
      const { fromEpoch, limit } = checkEpochListOptions(operation, options);
      return runQuery(operation, async () => {
        const rows = await context.db
          .selectFrom('epoch_states')
          .selectAll()
          .where('epoch_number', '>=', fromEpoch)
          .orderBy('epoch_number')
          .limit(limit)
          .execute();
        return rows.map(toEpochStateRecord);
      });
    },
  };
}
