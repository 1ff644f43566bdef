import {
  checkEpochState,
  type EpochStateInput,
  type EpochStateRecord,
  epochStateColumns,
  toEpochStateRecord,
} from '../epoch-state-fields.ts';
import type { DB } from '../generated/operator-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { inputChecks } from '../validate.ts';

export interface CurrentEpochStateRepository {
  get(): Promise<EpochStateRecord | undefined>;
  /**
   * Replaces the stored epoch state unless it is older than the stored one (`applied: false`):
   * epoch updates arrive over gossip, and a late one must not roll the node back. The same epoch
   * again overwrites it (the registry may republish).
   */
  put(state: EpochStateInput): Promise<{ applied: boolean; state: EpochStateRecord }>;
}

export function createCurrentEpochStateRepository(
  context: QueryContext<DB>,
): CurrentEpochStateRepository {
  return {
    async get() {
      return runQuery('currentEpochState.get', async () => {
        const row = await context.db
          .selectFrom('current_epoch_state')
          .selectAll()
          .executeTakeFirst();
        return row ? toEpochStateRecord(row) : undefined;
      });
    },

    async put(state) {
      const operation = 'currentEpochState.put';
      const checked = checkEpochState(inputChecks(operation), '', state);
      return runQuery(operation, async () => {
        const columns = epochStateColumns(checked, nowAsDate(context.clock));
        // Each step is one statement, so concurrent puts cannot interleave inside it: the row is
        // replaced in place only if it is not newer, and created only if there is none.
        const replaceIfNotNewer = () =>
          context.db
            .updateTable('current_epoch_state')
            .set(columns)
            .where('epoch_number', '<=', checked.epoch)
            .returningAll()
            .executeTakeFirst();
        const replaced = await replaceIfNotNewer();
        if (replaced) return { applied: true, state: toEpochStateRecord(replaced) };
        const created = await context.db
          .insertInto('current_epoch_state')
          .values(columns)
          .onConflict((conflict) => conflict.doNothing())
          .returningAll()
          .executeTakeFirst();
        if (created) return { applied: true, state: toEpochStateRecord(created) };
        // Another writer created the row meanwhile: compare with that one.
        const retried = await replaceIfNotNewer();
        if (retried) return { applied: true, state: toEpochStateRecord(retried) };
        const stored = await context.db
          .selectFrom('current_epoch_state')
          .selectAll()
          .executeTakeFirstOrThrow();
        return { applied: false, state: toEpochStateRecord(stored) };
      });
    },
  };
}
