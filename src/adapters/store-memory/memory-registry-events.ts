import type { Selectable } from 'kysely';
import type { RegistryEvents } from '../../store/generated/registry-db.ts';
import {
  type ChainCursorsRepository,
  checkCursorSet,
  checkKey,
  toStoredCursor,
} from '../../store/registry/chain-cursors.ts';
import {
  checkRegistryEvent,
  checkRegistryEventListOptions,
  type RegistryEventRecord,
  type RegistryEventsRepository,
  toRegistryEventRecord,
} from '../../store/registry/registry-events.ts';
import { inputChecks } from '../../store/validate.ts';
import { cursorKey, type MemoryRegistryContext } from './memory-registry-tables.ts';

type RegistryEventRow = Selectable<RegistryEvents>;

/**
 * `registry_events_chain_log_unique (block_hash, log_index)`: NULLs are distinct, so events
 * without a chain log never collide.
 */
const chainLogKey = (blockHash: string | null, logIndex: number | null): string | undefined =>
  blockHash === null || logIndex === null ? undefined : `${blockHash}/${logIndex}`;

/** The record, sharing no mutable JSON with the stored row. */
function eventRecord(row: RegistryEventRow): RegistryEventRecord {
  const record = toRegistryEventRecord(row);
  return { ...record, data: structuredClone(record.data) };
}

/** `registryEvents` (store/registry/registry-events.ts) over the memory tables. */
export function createMemoryRegistryEventsRepository(
  context: MemoryRegistryContext,
): RegistryEventsRepository {
  const { tables, clock, run } = context;
  return {
    async record(event) {
      const operation = 'registryEvents.record';
      const columns = checkRegistryEvent(operation, event);
      return run(operation, () => {
        // As nextval in SQL: an insert skipped as a duplicate still uses up its id.
        const id = tables.sequences.registryEventId++;
        const logKey = chainLogKey(columns.block_hash, columns.log_index);
        const storedId =
          logKey === undefined ? undefined : tables.registryEventIdByChainLog.get(logKey);
        const stored = storedId === undefined ? undefined : tables.registryEvents.get(storedId);
        if (stored) return { event: eventRecord(stored), recorded: false };
        const row: RegistryEventRow = {
          id,
          ...columns,
          // JSONB: the value parsed back from the checked JSON text.
          data: JSON.parse(columns.data),
          recorded_at: new Date(clock.now()),
        };
        tables.registryEvents.set(id, row);
        if (logKey !== undefined) tables.registryEventIdByChainLog.set(logKey, id);
        return { event: eventRecord(row), recorded: true };
      });
    },

    async list(options) {
      const operation = 'registryEvents.list';
      const filter = checkRegistryEventListOptions(operation, options);
      return run(operation, () =>
        [...tables.registryEvents.values()]
          .filter(
            (row) =>
              row.id > filter.afterId &&
              (filter.operatorAddress === undefined ||
                row.operator_address === filter.operatorAddress) &&
              (filter.eventType === undefined || row.event_type === filter.eventType),
          )
          .sort((a, b) => a.id - b.id)
          .slice(0, filter.limit)
          .map(eventRecord),
      );
    },
  };
}

/** `cursors` (store/registry/chain-cursors.ts) over the memory tables. */
export function createMemoryChainCursorsRepository(
  context: MemoryRegistryContext,
): ChainCursorsRepository {
  const { tables, clock, run } = context;
  return {
    async get(chainId, stream) {
      const operation = 'cursors.get';
      const key = checkKey(inputChecks(operation), chainId, stream);
      return run(operation, () =>
        toStoredCursor(tables.chainCursors.get(cursorKey(key.chainId, key.stream))),
      );
    },

    async set(chainId, stream, cursor) {
      const operation = 'cursors.set';
      const { key, position } = checkCursorSet(operation, chainId, stream, cursor);
      return run(operation, () => {
        tables.chainCursors.set(cursorKey(key.chainId, key.stream), {
          chain_id: key.chainId,
          stream: key.stream,
          ...position,
          updated_at: new Date(clock.now()),
        });
      });
    },
  };
}
