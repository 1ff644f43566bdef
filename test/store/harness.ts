import { type Address, getAddress, type Hex } from 'viem';
import type { EpochStateInput } from '../../src/store/epoch-state-fields.ts';
import type { OpenStoreOptions, StoreDeps } from '../../src/store/open-store-database.ts';
import type { LocalOperatorInput } from '../../src/store/operator/local-operator.ts';
import type { OperatorStore } from '../../src/store/operator/operator-store.ts';
import type { TaskResponseInput } from '../../src/store/operator/task-responses.ts';
import type { OperatorRegistration } from '../../src/store/registry/operators.ts';
import type { RegistryStore } from '../../src/store/registry/registry-store.ts';
import type { StoreDriver } from '../../src/store/store-driver.ts';
import type { TaskInput } from '../../src/store/task-fields.ts';

/** What the compliance suite needs from an adapter: one database, many stores in it. */
export interface StoreHarness {
  /** The adapter's public open functions. */
  openRegistryStore(deps: StoreDeps, options: OpenStoreOptions): Promise<RegistryStore>;
  openOperatorStore(deps: StoreDeps, options: OpenStoreOptions): Promise<OperatorStore>;
  /** The adapter's driver, for tests that open stores with custom migrations. */
  driver: StoreDriver;
  /** Runs SQL straight on the database, bypassing the store (to reach the constraints). */
  rawQuery<Row = Record<string, unknown>>(sql: string): Promise<Row[]>;
  close(): Promise<void>;
}

export type StoreHarnessFactory = () => Promise<StoreHarness>;

/** A clock that moves only when told, like the simulator's. */
export interface ManualClock {
  now(): number;
  advance(durationMs: number): void;
}

export const START_MS = 1_700_000_000_000;

export function createManualClock(startMs = START_MS): ManualClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance: (durationMs) => {
      nowMs += durationMs;
    },
  };
}

let schemaCounter = 0;

/** A schema name no other test in this process uses. */
export function freshSchema(prefix: string): string {
  schemaCounter += 1;
  return `${prefix}_${process.pid}_${schemaCounter}`;
}

/** Deterministic checksummed addresses; `address(1) < address(2)` as numbers. */
export function address(n: number): Address {
  return getAddress(`0x${n.toString(16).padStart(40, '0')}`);
}

export function bytes32(n: number): Hex {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

/** A well-formed 65-byte signature with v = 27. */
export function signature(n: number): Hex {
  return `0x${n.toString(16).padStart(128, '0')}1b`;
}

export const UINT256_MAX = 2n ** 256n - 1n;
/** The value pg-mem turns into 1e18 (SPEC §4). */
export const TEN_POW_18_PLUS_1 = 10n ** 18n + 1n;

export function task(n: number, overrides: Partial<TaskInput> = {}): TaskInput {
  return {
    taskId: bytes32(n),
    targetAddress: address(0xbeef),
    chainId: 31337,
    blockNumber: 100n,
    timestampSec: 1_700_000_000n,
    epoch: 1,
    key: UINT256_MAX,
    value: TEN_POW_18_PLUS_1,
    expiresAtMs: START_MS + 15_000,
    ...overrides,
  };
}

export function registration(
  n: number,
  overrides: Partial<OperatorRegistration> = {},
): OperatorRegistration {
  return {
    address: address(n),
    signingKey: address(0x1000 + n),
    registeredAtBlockNumber: 10n,
    registeredAtTimestampSec: 1_700_000_000n,
    activeEpoch: 1,
    status: 'waitingJoin',
    ...overrides,
  };
}

/** Operator n as its own node stores it: signing key 10 + n, active since epoch 1, weight 1. */
export function localOperator(
  n: number,
  overrides: Partial<LocalOperatorInput> = {},
): LocalOperatorInput {
  return {
    address: address(n),
    signingKey: address(10 + n),
    activeEpoch: 1,
    status: 'active',
    weightWei: 1n,
    ...overrides,
  };
}

/** The operator's signed answer to task n (signature n), submitted at START_MS. */
export function signedAnswer(
  n: number,
  overrides: Partial<TaskResponseInput> = {},
): TaskResponseInput {
  return {
    taskId: bytes32(n),
    submittedAtMs: START_MS,
    outcome: 'signed',
    signature: signature(n),
    ...overrides,
  } as TaskResponseInput;
}

/** An epoch state with small defaults: start block 12 × epoch, threshold 1. */
export function epochState(
  epoch: number,
  overrides: Partial<EpochStateInput> = {},
): EpochStateInput {
  return {
    epoch,
    startBlock: BigInt(epoch) * 12n,
    minimumWeightWei: 0n,
    totalWeightWei: 1n,
    thresholdWeightWei: 1n,
    ...overrides,
  };
}

/** Counts the queries a store runs, to show that rejected input never reached the database. */
export function createQueryCounter(): { onQuery: () => void; count(): number } {
  let queries = 0;
  return {
    onQuery: () => {
      queries += 1;
    },
    count: () => queries,
  };
}
