import type { Address } from 'viem';
import {
  type ChainCursor,
  readConfirmedOperatorEvents,
} from '../chain/confirmed-operator-events.ts';
import { ReorgBeyondDepthError } from '../chain/errors.ts';
import type { EpochParams } from '../core/epoch-math.ts';
import { applyDeregistration, operatorFromRegistration } from '../core/operator-lifecycle.ts';
import type {
  MainChain,
  OperatorDeregisteredEvent,
  OperatorEvent,
  OperatorRegisteredEvent,
} from '../ports/chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { LogData, Logger } from '../ports/logger.ts';
import type { RegistryRepositories, RegistryStore } from '../store/registry/registry-store.ts';

/** The `chain_cursors` stream this watcher owns (keyed by the main chain's id). */
export const OPERATOR_EVENTS_STREAM = 'operatorEvents';

export interface OperatorEventWatcherDeps {
  chain: MainChain;
  store: RegistryStore;
  clock: Clock;
  log: Logger;
  /**
   * Told when a re-registration drops an operator's peer binding (the operator must join again),
   * so the in-memory directory forgets it too. Optional: the stored `peer_id` is cleared anyway.
   */
  peers?: { unbind(operator: Address): void };
}

export interface OperatorEventWatcherOptions {
  /** Blocks below the head a block must be before its events are read (reorg safety). */
  confirmations: bigint;
  /** Pause between polls once caught up. */
  pollIntervalMs: number;
  /** First block to read when no cursor is stored (the registry's deployment block). */
  startBlock: bigint;
  /** Upper bound on one getLogs range (default 2,000 blocks). */
  maxRangeBlocks?: bigint;
}

export type WatcherStatus = 'starting' | 'ok' | 'degraded';

export interface OperatorEventWatcherHealth {
  /** `starting` until the first poll reaches the confirmed tip; `degraded` after a deep reorg. */
  status: WatcherStatus;
  /** The cursor: every event at or below this block has been applied. */
  syncedToBlock: bigint | undefined;
  /** The last poll reached the confirmed tip. */
  caughtUp: boolean;
  /** Set while the cursor's block is no longer canonical (a reorg deeper than the depth). */
  reorgBeyondDepth: { blockNumber: bigint; message: string } | null;
  /** The last poll's failure other than a deep reorg (RPC, store), cleared by a good poll. */
  lastError: string | null;
}

/** What one applied event did to the operators table (also stored in `registry_events.data`). */
export type OperatorEventEffect =
  /** A new operator row, `waitingJoin`. */
  | 'registered'
  /** A known address registered again: a fresh registration (see `applyRegistration`). */
  | 'reregistered'
  /** `exitEpoch` set. */
  | 'deregistered'
  /** A deregistration of an address the registry never saw registered (before `startBlock`). */
  | 'unknownOperator';

export interface OperatorEventWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The persisted cursor block, or undefined before the first poll with nothing stored. */
  syncedToBlock(): bigint | undefined;
  health(): OperatorEventWatcherHealth;
  /** Called after each committed batch that moved the cursor, with the new cursor block. */
  onSynced(listener: (syncedToBlock: bigint) => void): () => void;
}

/**
 * Follows OperatorRegistered / OperatorDeregistered on the main chain (SPEC §3 registry node).
 * Each poll reads the events of blocks at least `confirmations` deep after the persisted cursor
 * and applies them, with the new cursor, in ONE store transaction: a crash either keeps the whole
 * batch or none of it, so a restart resumes from the cursor without duplicating or missing
 * events (and `registry_events` dedupes by block hash + log index besides).
 *
 * Reorgs: blocks shallower than the depth are never read, so a shallow reorg needs nothing. A
 * reorg that replaced the cursor's block (deeper than the depth) cannot be repaired safely
 * here: the watcher logs it as an error, reports `degraded` with the block in its health, keeps
 * polling (it recovers by itself if the chain returns to the recorded block) and never crashes
 * the process. Recovery is an operator decision: raise the depth, rewind the cursor, re-derive.
 */
export function createOperatorEventWatcher(
  deps: OperatorEventWatcherDeps,
  options: OperatorEventWatcherOptions,
): OperatorEventWatcher {
  const { chain, store, clock } = deps;
  const log = deps.log.child('operator-event-watcher');
  const listeners = new Set<(syncedToBlock: bigint) => void>();
  let controller: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let params: EpochParams | undefined;
  let cursor: ChainCursor | undefined;
  let polledOnce = false;
  let caughtUpOnce = false;
  let caughtUp = false;
  let reorg: OperatorEventWatcherHealth['reorgBeyondDepth'] = null;
  let lastError: string | null = null;

  function syncedToBlock(): bigint | undefined {
    if (cursor !== undefined) return cursor.blockNumber;
    // Nothing confirmed since startBlock yet: everything before it is, by definition, not ours.
    return polledOnce ? options.startBlock - 1n : undefined;
  }

  async function pollOnce(epochParams: EpochParams): Promise<boolean> {
    const read = await readConfirmedOperatorEvents(chain, {
      cursor,
      startBlock: options.startBlock,
      confirmations: options.confirmations,
      ...(options.maxRangeBlocks === undefined ? {} : { maxRangeBlocks: options.maxRangeBlocks }),
    });
    const next = read.cursor;
    const moved =
      next !== undefined &&
      (cursor === undefined ||
        next.blockNumber !== cursor.blockNumber ||
        next.blockHash !== cursor.blockHash);
    if (moved) {
      const outcomes = await store.transaction(async (tx) => {
        const applied: AppliedEvent[] = [];
        for (const event of read.events) applied.push(await applyEvent(tx, event, epochParams));
        await tx.cursors.set(chain.chainId, OPERATOR_EVENTS_STREAM, next);
        return applied;
      });
      cursor = next;
      // Logged and propagated only once the batch has committed.
      for (const outcome of outcomes) {
        for (const [level, message, data] of outcome.logs) log[level](message, data);
        if (outcome.peerDropped) deps.peers?.unbind(outcome.operator);
      }
      if (read.events.length > 0) {
        log.info('operator events applied', {
          count: read.events.length,
          syncedToBlock: next.blockNumber,
        });
      }
    }
    polledOnce = true;
    caughtUp = read.caughtUp;
    if (caughtUp) caughtUpOnce = true;
    if (reorg !== null) {
      log.info('the recorded cursor block is canonical again', { block: reorg.blockNumber });
      reorg = null;
    }
    lastError = null;
    if (moved) notify(next.blockNumber);
    return read.caughtUp;
  }

  function notify(block: bigint): void {
    for (const listener of listeners) {
      try {
        listener(block);
      } catch (error) {
        log.error('onSynced listener threw', { error: String(error) });
      }
    }
  }

  async function run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let caughtUpNow = true;
      try {
        params ??= await chain.getEpochParams();
        caughtUpNow = await pollOnce(params);
      } catch (error) {
        if (signal.aborted) break;
        recordFailure(error);
      }
      if (caughtUpNow) {
        try {
          await clock.sleep(options.pollIntervalMs, { signal });
        } catch {
          break; // aborted while sleeping
        }
      }
    }
  }

  function recordFailure(error: unknown): void {
    caughtUp = false;
    if (error instanceof ReorgBeyondDepthError) {
      if (reorg?.blockNumber !== error.blockNumber) {
        log.error('reorg deeper than the confirmation depth: event watching is halted', {
          block: error.blockNumber,
          confirmations: options.confirmations,
          error: error.message,
        });
      }
      reorg = { blockNumber: error.blockNumber, message: error.message };
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (message !== lastError) log.warn('operator event poll failed', { error: message });
    lastError = message;
  }

  return {
    async start() {
      if (controller !== undefined) return;
      controller = new AbortController();
      cursor = await store.cursors.get(chain.chainId, OPERATOR_EVENTS_STREAM);
      log.info('operator event watcher starting', {
        resumeAfterBlock: cursor?.blockNumber,
        startBlock: options.startBlock,
        confirmations: options.confirmations,
      });
      loop = run(controller.signal);
    },

    async stop() {
      controller?.abort();
      await loop;
      loop = undefined;
      controller = undefined;
    },

    syncedToBlock,

    health() {
      return {
        status: reorg !== null ? 'degraded' : caughtUpOnce ? 'ok' : 'starting',
        syncedToBlock: syncedToBlock(),
        caughtUp,
        reorgBeyondDepth: reorg,
        lastError,
      };
    },

    onSynced(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/**
 * Records one event in `registry_events` (once: a log already stored changes nothing) and applies
 * it to `operators`. Runs inside the batch's transaction.
 */
async function applyEvent(
  tx: RegistryRepositories,
  event: OperatorEvent,
  params: EpochParams,
): Promise<AppliedEvent> {
  const existing = await tx.operators.get(event.operator);
  const planned =
    event.kind === 'registered'
      ? planRegistration(event, existing, params)
      : planDeregistration(event, existing, params);
  const { recorded } = await tx.registryEvents.record({
    eventType: event.kind === 'registered' ? 'operatorRegistered' : 'operatorDeregistered',
    operatorAddress: event.operator,
    chainLog: {
      blockNumber: event.blockNumber,
      blockHash: event.blockHash,
      logIndex: event.logIndex,
      transactionHash: event.transactionHash,
    },
    data: planned.data,
  });
  const outcome: AppliedEvent = { operator: event.operator, peerDropped: false, logs: [] };
  if (!recorded) return outcome; // already applied by an earlier batch
  await planned.apply(tx, outcome);
  return outcome;
}

type LogLine = [level: 'info' | 'warn', message: string, data: LogData];

interface AppliedEvent {
  operator: Address;
  /** The operator's peer binding was dropped (re-registration). */
  peerDropped: boolean;
  /** Written once the batch has committed. */
  logs: LogLine[];
}

interface PlannedEvent {
  data: Record<string, string | number | null>;
  apply(tx: RegistryRepositories, outcome: AppliedEvent): Promise<void>;
}

type StoredOperator = Awaited<ReturnType<RegistryRepositories['operators']['get']>>;

/**
 * A registration makes the operator `waitingJoin`, active from the effective epoch of its block,
 * with the event's signing key (weight 0 until the first epoch advance reads it).
 *
 * Re-registration (the address is known: it deregistered, and the contract lets it register
 * again) starts a NEW registration rather than continuing the old lifecycle: fresh
 * `activeEpoch`, `exitEpoch` cleared, the new signing key, weight 0, status `waitingJoin`, and
 * the peer binding dropped so that the operator must join again, proving it holds the new key.
 * Two things carry over: the counters (`missing`, `successfulResponseCount` stay equal to what
 * the task trace says) and a suspension: a suspended operator stays `suspended` (with
 * `waitingJoin` as the status an admin unsuspend returns it to), since suspension is lifted only
 * by an admin, never by deregistering and registering again.
 */
function planRegistration(
  event: OperatorRegisteredEvent,
  existing: StoredOperator,
  params: EpochParams,
): PlannedEvent {
  const fresh = operatorFromRegistration(
    { operator: event.operator, signingKey: event.signingKey, blockNumber: event.blockNumber },
    params,
  );
  const suspended = existing?.status === 'suspended';
  const effect: OperatorEventEffect = existing === undefined ? 'registered' : 'reregistered';
  return {
    data: {
      effect,
      signingKey: event.signingKey,
      timestampSec: event.timestampSec.toString(),
      activeEpoch: fresh.activeEpoch,
      previousStatus: existing?.status ?? null,
      previousExitEpoch: existing?.exitEpoch ?? null,
    },
    async apply(tx, outcome) {
      await tx.operators.upsert({
        address: fresh.address,
        signingKey: fresh.signingKey,
        registeredAtBlockNumber: event.blockNumber,
        registeredAtTimestampSec: event.timestampSec,
        activeEpoch: fresh.activeEpoch,
        exitEpoch: null,
        weightWei: fresh.weightWei,
        status: suspended ? 'suspended' : fresh.status,
        statusBeforeSuspension: suspended ? 'waitingJoin' : null,
      });
      const at = { operator: event.operator, block: event.blockNumber };
      if (existing === undefined) {
        outcome.logs.push([
          'info',
          'operator registered',
          { ...at, activeEpoch: fresh.activeEpoch },
        ]);
        return;
      }
      if (existing.exitEpoch === null) {
        outcome.logs.push(['warn', 'registration of an operator recorded as still registered', at]);
      }
      outcome.logs.push([
        'info',
        'operator re-registered: a fresh registration',
        {
          ...at,
          activeEpoch: fresh.activeEpoch,
          previousStatus: existing.status,
          staysSuspended: suspended,
        },
      ]);
      if (existing.peerId === null) return;
      await tx.operators.update(event.operator, { peerId: null });
      outcome.peerDropped = true;
    },
  };
}

/** A deregistration sets `exitEpoch`; the status follows at that epoch's start. */
function planDeregistration(
  event: OperatorDeregisteredEvent,
  existing: StoredOperator,
  params: EpochParams,
): PlannedEvent {
  if (existing === undefined) {
    return {
      data: { effect: 'unknownOperator' },
      async apply(_tx, outcome) {
        outcome.logs.push([
          'warn',
          'deregistration of an operator never seen registered (before startBlock?)',
          { operator: event.operator, block: event.blockNumber },
        ]);
      },
    };
  }
  const updated = applyDeregistration(existing, event.blockNumber, params);
  return {
    data: { effect: 'deregistered', exitEpoch: updated.exitEpoch },
    async apply(tx, outcome) {
      await tx.operators.update(event.operator, { exitEpoch: updated.exitEpoch });
      outcome.logs.push([
        'info',
        'operator deregistered',
        { operator: event.operator, block: event.blockNumber, exitEpoch: updated.exitEpoch },
      ]);
    },
  };
}
