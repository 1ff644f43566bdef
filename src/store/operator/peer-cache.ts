import type { Selectable } from 'kysely';
import type { Address } from 'viem';
import type { DB, PeerCache } from '../generated/operator-db.ts';
import { type QueryContext, runQuery } from '../query-context.ts';
import { msAsDate, storedAddress, storedMs, storedOneOf } from '../stored-values.ts';
import {
  type InputChecks,
  inputChecks,
  MAX_LIST_LIMIT,
  MAX_PEER_ADDRESSES,
  MAX_TEXT_LENGTH,
} from '../validate.ts';

export const PEER_STATUSES = ['connected', 'disconnected', 'banned'] as const;
export type PeerStatus = (typeof PEER_STATUSES)[number];

export interface PeerInput {
  /** libp2p peer id. */
  peerId: string;
  /** The operator the peer belongs to, when known. */
  operatorAddress?: Address;
  /** Multiaddrs the peer was reached at (at most 32); default none. */
  addresses?: readonly string[];
  lastSeenAtMs: number;
  status: PeerStatus;
}

export interface PeerRecord {
  peerId: string;
  operatorAddress: Address | null;
  addresses: string[];
  lastSeenAtMs: number;
  status: PeerStatus;
}

export interface PeerCacheRepository {
  /** Inserts or replaces the peer's entry. */
  upsert(peer: PeerInput): Promise<PeerRecord>;
  /**
   * `upsert` for several peers in one statement (a join's discovery peers), at most
   * MAX_PEERS_PER_UPSERT, each peer id once; the records come back in the order given.
   */
  upsertMany(peers: readonly PeerInput[]): Promise<PeerRecord[]>;
  get(peerId: string): Promise<PeerRecord | undefined>;
  /** Most recently seen first, at most `limit`. */
  list(options: { status?: PeerStatus; limit: number }): Promise<PeerRecord[]>;
  /** True when an entry was removed. */
  remove(peerId: string): Promise<boolean>;
  /** Drops entries last seen before `beforeMs`; returns how many. */
  pruneLastSeenBefore(beforeMs: number): Promise<number>;
}

export const MAX_PEER_ID_LENGTH = 128;
/** A join's discovery answer carries at most 512 peers (MAX_PEERS_PER_MESSAGE), plus the registry. */
export const MAX_PEERS_PER_UPSERT = 1024;

export function toPeerRecord(row: Selectable<PeerCache>): PeerRecord {
  return {
    peerId: row.peer_id,
    operatorAddress: row.operator_address === null ? null : storedAddress(row.operator_address),
    addresses: row.addresses,
    lastSeenAtMs: storedMs(row.last_seen_at),
    status: storedOneOf(row.status, PEER_STATUSES),
  };
}

/** The row values of `peer`, checked; `path` prefixes field names (`peers[2].`). */
export function peerColumns(checks: InputChecks, peer: PeerInput, path: string) {
  checks.require(
    typeof peer === 'object' && peer !== null,
    path === '' ? 'peer' : path.slice(0, -1),
    'expected an object',
  );
  return {
    peer_id: checks.text(`${path}peerId`, peer.peerId, MAX_PEER_ID_LENGTH),
    operator_address:
      peer.operatorAddress === undefined
        ? null
        : checks.address(`${path}operatorAddress`, peer.operatorAddress),
    addresses: checks
      .array(`${path}addresses`, peer.addresses ?? [], MAX_PEER_ADDRESSES)
      .map((address, index) => checks.text(`${path}addresses[${index}]`, address, MAX_TEXT_LENGTH)),
    last_seen_at: msAsDate(checks.timestampMs(`${path}lastSeenAtMs`, peer.lastSeenAtMs)),
    status: checks.oneOf(`${path}status`, peer.status, PEER_STATUSES),
  };
}

/** The rows of `upsertMany`, checked: at most MAX_PEERS_PER_UPSERT, each peer id once. */
export function checkPeerList(operation: string, peers: readonly PeerInput[]) {
  const checks = inputChecks(operation);
  const rows = checks
    .array('peers', peers, MAX_PEERS_PER_UPSERT)
    .map((peer, index) => peerColumns(checks, peer as PeerInput, `peers[${index}].`));
  const firstIndex = new Map<string, number>();
  rows.forEach((row, index) => {
    const earlier = firstIndex.get(row.peer_id);
    // One statement cannot update a row twice (Postgres refuses the whole upsert).
    checks.require(earlier === undefined, `peers[${index}].peerId`, `same as peers[${earlier}]`);
    firstIndex.set(row.peer_id, index);
  });
  return rows;
}

/** `list`'s options, checked. */
export function checkPeerListOptions(
  operation: string,
  options: { status?: PeerStatus; limit: number },
): { limit: number; status: PeerStatus | undefined } {
  const checks = inputChecks(operation);
  return {
    limit: checks.positiveInteger('limit', options?.limit, MAX_LIST_LIMIT),
    status:
      options?.status === undefined
        ? undefined
        : checks.oneOf('status', options.status, PEER_STATUSES),
  };
}

export function createPeerCacheRepository(context: QueryContext<DB>): PeerCacheRepository {
  return {
    async upsert(peer) {
      const operation = 'peerCache.upsert';
      const { peer_id: peerId, ...values } = peerColumns(inputChecks(operation), peer, '');
      return runQuery(operation, async () => {
        const row = await context.db
          .insertInto('peer_cache')
          .values({ peer_id: peerId, ...values })
          .onConflict((conflict) => conflict.column('peer_id').doUpdateSet(values))
          .returningAll()
          .executeTakeFirstOrThrow();
        return toPeerRecord(row);
      });
    },

    async upsertMany(peers) {
      const operation = 'peerCache.upsertMany';
      const rows = checkPeerList(operation, peers);
      if (rows.length === 0) return [];
      return runQuery(operation, async () => {
        const stored = await context.db
          .insertInto('peer_cache')
          .values(rows)
          .onConflict((conflict) =>
            conflict.column('peer_id').doUpdateSet((eb) => ({
              operator_address: eb.ref('excluded.operator_address'),
              addresses: eb.ref('excluded.addresses'),
              last_seen_at: eb.ref('excluded.last_seen_at'),
              status: eb.ref('excluded.status'),
            })),
          )
          .returningAll()
          .execute();
        const byPeerId = new Map(stored.map((row) => [row.peer_id, toPeerRecord(row)]));
        return rows.map((row) => {
          const record = byPeerId.get(row.peer_id);
          if (record === undefined) throw new Error(`upserted peer ${row.peer_id} not returned`);
          return record;
        });
      });
    },

    async get(peerId) {
      const operation = 'peerCache.get';
      const key = inputChecks(operation).text('peerId', peerId, MAX_PEER_ID_LENGTH);
      return runQuery(operation, async () => {
        const row = await context.db
          .selectFrom('peer_cache')
          .selectAll()
          .where('peer_id', '=', key)
          .executeTakeFirst();
        return row ? toPeerRecord(row) : undefined;
      });
    },

    async list(options) {
      const operation = 'peerCache.list';
      const { limit, status } = checkPeerListOptions(operation, options);
      return runQuery(operation, async () => {
        let query = context.db.selectFrom('peer_cache').selectAll();
        if (status !== undefined) query = query.where('status', '=', status);
        const rows = await query
          .orderBy('last_seen_at', 'desc')
          .orderBy('peer_id')
          .limit(limit)
          .execute();
        return rows.map(toPeerRecord);
      });
    },

    async remove(peerId) {
      const operation = 'peerCache.remove';
      const key = inputChecks(operation).text('peerId', peerId, MAX_PEER_ID_LENGTH);
      return runQuery(operation, async () => {
        const result = await context.db
          .deleteFrom('peer_cache')
          .where('peer_id', '=', key)
          .executeTakeFirst();
        return result.numDeletedRows > 0n;
      });
    },

    async pruneLastSeenBefore(beforeMs) {
      const operation = 'peerCache.pruneLastSeenBefore';
      const cutoff = inputChecks(operation).timestampMs('beforeMs', beforeMs);
      return runQuery(operation, async () => {
        const result = await context.db
          .deleteFrom('peer_cache')
          .where('last_seen_at', '<', msAsDate(cutoff))
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
  };
}
