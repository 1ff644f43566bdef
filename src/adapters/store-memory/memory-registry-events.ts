import type { Selectable } from 'kysely';
import type { RegistryEvents } from '../../store/generated/registry-db.ts';
import { type ChainCursorsRepository, checkKey } from '../../store/registry/chain-cursors.ts';
import {
  checkRegistryEvent,
  checkRegistryEventListOptions,
  type RegistryEventRecord,
  type RegistryEventsRepository,
  toRegistryEventRecord,
} from '../../store/registry/registry-events.ts';
import { storedHex } from '../../store/stored-values.ts';
import { inputChecks } from '../../store/validate.ts';
import { cursorKey, type MemoryRegistryContext } from './memory-registry-tables.ts';
import { InsertOnlyUniqueIndex } from './memory-registry-unique-index.ts';

type RegistryEventRow = Selectable<RegistryEvents>;

/**
 * `registry_events_chain_log_unique (block_hash, log_index)`: NULLs are distinct, so events
 * without a chain log never collide.
 */
const chainLogKey = (blockHash: string | null, logIndex: number | null): string | undefined =>
  blockHash === null || logIndex === null ? undefined : `${blockHash}/${logIndex}`;

const eventsByChainLog = new InsertOnlyUniqueIndex<RegistryEventRow>(
  (row) => chainLogKey(row.block_hash, row.log_index),
  (row) => row.id,
);

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
      const { eventType, operatorAddress, chainColumns, data } = checkRegistryEvent(
        operation,
        event,
      );
      return run(operation, () => {
        // As nextval in SQL: an insert skipped as a duplicate still uses up its id.
        const id = tables.sequences.registryEventId++;
        const logKey = chainLogKey(chainColumns.block_hash, chainColumns.log_index);
        const stored =
          logKey === undefined ? undefined : eventsByChainLog.find(tables.registryEvents, logKey);
        if (stored) return { event: eventRecord(stored), recorded: false };
        const row: RegistryEventRow = {
          id,
          event_type: eventType,
          operator_address: operatorAddress,
          ...chainColumns,
          // JSONB: the value parsed back from the checked JSON text.
          data: JSON.parse(data),
          recorded_at: new Date(clock.now()),
        };
        tables.registryEvents.set(id, row);
        eventsByChainLog.add(tables.registryEvents, row);
        return { event: eventRecord(row), recorded: true };
      });
    },

    async list(options) {
      const operation = 'registryEvents.list';
      const { limit, operatorAddress, eventType, afterId } = checkRegistryEventListOptions(
        operation,
        options,
      );
      return run(operation, () =>
        [...tables.registryEvents.values()]
          .filter(
            (row) =>
              row.id > afterId &&
              (operatorAddress === undefined || row.operator_address === operatorAddress) &&
              (eventType === undefined || row.event_type === eventType),
          )
          .sort((a, b) => a.id - b.id)
          .slice(0, limit)
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
      return run(operation, () => {
        const row = tables.chainCursors.get(cursorKey(key.chainId, key.stream));
        return row
          ? { blockNumber: row.block_number, blockHash: storedHex(row.block_hash) }
          : undefined;
      });
    },

    async set(chainId, stream, cursor) {
      const operation = 'cursors.set';
      const checks = inputChecks(operation);
      const key = checkKey(checks, chainId, stream);
      checks.require(typeof cursor === 'object' && cursor !== null, 'cursor', 'expected an object');
      const position = {
        block_number: checks.uint64('cursor.blockNumber', cursor.blockNumber),
        block_hash: checks.bytes32('cursor.blockHash', cursor.blockHash),
      };
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
