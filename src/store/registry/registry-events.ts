import type { Selectable } from 'kysely';
import type { Address, Hex } from 'viem';
import type { DB, RegistryEvents } from '../generated/registry-db.ts';
import { nowAsDate, type QueryContext, runQuery } from '../query-context.ts';
import { storedAddress, storedHex, storedMs } from '../stored-values.ts';
import { inputChecks, type JsonValue, MAX_EVENT_DATA_BYTES, MAX_LIST_LIMIT } from '../validate.ts';

/** Where a chain event was logged; a log is recorded at most once. */
export interface ChainLogPosition {
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash?: Hex;
}

export interface RegistryEventInput {
  /** camelCase, e.g. "operatorRegistered", "operatorDeregistered", "operatorJoined". */
  eventType: string;
  operatorAddress?: Address;
  /** Set for events read from the chain. */
  chainLog?: ChainLogPosition;
  /** Event details as JSON (bigints as decimal strings). */
  data?: JsonValue;
}

export interface RegistryEventRecord {
  id: number;
  eventType: string;
  operatorAddress: Address | null;
  chainLog: ChainLogPosition | null;
  data: JsonValue;
  recordedAtMs: number;
}

export interface RegistryEventListOptions {
  operatorAddress?: Address;
  eventType?: string;
  /** Only events with a larger id (for paging). */
  afterId?: number;
  limit: number;
}

export interface RegistryEventsRepository {
  /**
   * Appends an event. A chain event whose (blockHash, logIndex) is already stored is not added
   * again: `recorded` is false and `event` is the stored one, so replaying a block range after a
   * restart is harmless.
   */
  record(event: RegistryEventInput): Promise<{ event: RegistryEventRecord; recorded: boolean }>;
  /** Oldest first. */
  list(options: RegistryEventListOptions): Promise<RegistryEventRecord[]>;
}

const EVENT_TYPE_PATTERN = /^[a-z][A-Za-z0-9]{0,63}$/;

/**
 * Validates an event into its columns but `id` and `recorded_at` (the chain log's four, all null
 * for an off-chain event; `data` as checked JSON text). Shared with the memory adapter.
 */
export function checkRegistryEvent(operation: string, event: RegistryEventInput) {
  const checks = inputChecks(operation);
  checks.require(typeof event === 'object' && event !== null, 'event', 'expected an object');
  const eventType = checks.matching(
    'eventType',
    event.eventType,
    EVENT_TYPE_PATTERN,
    'a camelCase event type of at most 64 characters',
  );
  const operatorAddress =
    event.operatorAddress === undefined
      ? null
      : checks.address('operatorAddress', event.operatorAddress);
  const log = event.chainLog;
  const chainColumns =
    log === undefined
      ? { block_number: null, block_hash: null, log_index: null, transaction_hash: null }
      : {
          block_number: checks.uint64('chainLog.blockNumber', log.blockNumber),
          block_hash: checks.bytes32('chainLog.blockHash', log.blockHash),
          log_index: checks.counter('chainLog.logIndex', log.logIndex),
          transaction_hash:
            log.transactionHash === undefined
              ? null
              : checks.bytes32('chainLog.transactionHash', log.transactionHash),
        };
  const data = checks.json('data', event.data ?? {}, MAX_EVENT_DATA_BYTES);
  return { event_type: eventType, operator_address: operatorAddress, ...chainColumns, data };
}

/**
 * Validates list options (`afterId` 0 and no filters when not given). Shared with the memory
 * adapter.
 */
export function checkRegistryEventListOptions(
  operation: string,
  options: RegistryEventListOptions,
) {
  const checks = inputChecks(operation);
  checks.require(typeof options === 'object' && options !== null, 'options', 'expected an object');
  const limit = checks.positiveInteger('limit', options.limit, MAX_LIST_LIMIT);
  const operatorAddress =
    options.operatorAddress === undefined
      ? undefined
      : checks.address('operatorAddress', options.operatorAddress);
  const eventType =
    options.eventType === undefined
      ? undefined
      : checks.matching(
          'eventType',
          options.eventType,
          EVENT_TYPE_PATTERN,
          'a camelCase event type',
        );
  const afterId = options.afterId === undefined ? 0 : checks.rowId('afterId', options.afterId);
  return { limit, operatorAddress, eventType, afterId };
}

export function toRegistryEventRecord(row: Selectable<RegistryEvents>): RegistryEventRecord {
  const chainLog: ChainLogPosition | null =
    row.block_hash !== null && row.block_number !== null && row.log_index !== null
      ? {
          blockNumber: row.block_number,
          blockHash: storedHex(row.block_hash),
          logIndex: row.log_index,
          ...(row.transaction_hash === null
            ? {}
            : { transactionHash: storedHex(row.transaction_hash) }),
        }
      : null;
  return {
    id: row.id,
    eventType: row.event_type,
    operatorAddress: row.operator_address === null ? null : storedAddress(row.operator_address),
    chainLog,
    data: row.data as JsonValue,
    recordedAtMs: storedMs(row.recorded_at),
  };
}

export function createRegistryEventsRepository(
  context: QueryContext<DB>,
): RegistryEventsRepository {
  return {
    async record(event) {
      const operation = 'registryEvents.record';
      const columns = checkRegistryEvent(operation, event);
      return runQuery(operation, async () => {
        const inserted = await context.db
          .insertInto('registry_events')
          .values({ ...columns, recorded_at: nowAsDate(context.clock) })
          .onConflict((conflict) =>
            conflict.constraint('registry_events_chain_log_unique').doNothing(),
          )
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { event: toRegistryEventRecord(inserted), recorded: true };
        const stored = await context.db
          .selectFrom('registry_events')
          .selectAll()
          .where('block_hash', '=', columns.block_hash)
          .where('log_index', '=', columns.log_index)
          .executeTakeFirstOrThrow();
        return { event: toRegistryEventRecord(stored), recorded: false };
      });
    },

    async list(options) {
      const operation = 'registryEvents.list';
      const filter = checkRegistryEventListOptions(operation, options);
      return runQuery(operation, async () => {
        const { limit, operatorAddress, eventType, afterId } = filter;
        let query = context.db.selectFrom('registry_events').selectAll().where('id', '>', afterId);
        if (operatorAddress !== undefined) {
          query = query.where('operator_address', '=', operatorAddress);
        }
        if (eventType !== undefined) query = query.where('event_type', '=', eventType);
        const rows = await query.orderBy('id').limit(limit).execute();
        return rows.map(toRegistryEventRecord);
      });
    },
  };
}
