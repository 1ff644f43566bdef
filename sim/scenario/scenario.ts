import type { OperatorStatus } from '../../src/core/operator-status.ts';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';

/**
 * A scenario after parsing and validation (`parse-scenario.ts` turns YAML into this). Every
 * default is filled in; names are resolved. Times are virtual milliseconds from the start.
 */
export interface Scenario {
  name: string;
  description: string;
  /** Seed used when the command line gives none. */
  defaultSeed: number;
  /** The run ends at this virtual time (assertions are checked then). */
  durationMs: number;
  chain: ChainSetup;
  network: NetworkConditionsSetup;
  aggregator: AggregatorSetup;
  operators: OperatorSetup[];
  /** Named user accounts that set values and are proven about. */
  users: string[];
  timeline: TimelineStep[];
  assertions: Assertion[];
}

export interface ChainSetup {
  epochLengthBlocks: number;
  gracePeriodBlocks: number;
  /** Virtual time between blocks (both chains); at least 1000 (block timestamps are seconds). */
  blockTimeMs: number;
  confirmations: number;
  /** State chains besides the main chain (which also has a StateManager). */
  stateChainIds: number[];
  /** The main chain's id. */
  mainChainId: number;
}

export interface NetworkConditionsSetup {
  latencyMs: number;
  jitterMs: number;
  lossRate: number;
  duplicateRate: number;
}

export interface AggregatorSetup {
  responseDeadlineMs: number;
  expiryMs: number;
  maxRetries: number;
  selection: 'allActive' | 'heaviestFirst';
}

export interface OperatorSetup {
  /** Unique, alphanumeric: "op00", "op01", … when generated from a count. */
  name: string;
  /** Weight in wei. */
  weight: bigint;
  behaviour: OperatorBehaviourSpec;
  /** Registered on chain before the run starts (false: a `register` step does it). */
  registeredAtStart: boolean;
  /** Extra signing keys the node holds, for `rotateKey` steps. */
  spareKeys: number;
}

/** When a step happens: at a virtual time, or when the main chain reaches an epoch's start block. */
export type StepTime = { kind: 'time'; atMs: number } | { kind: 'epoch'; epoch: number };

export interface TimelineStep {
  at: StepTime;
  /** 1-based line in the scenario file, for messages. */
  line: number;
  action: Action;
}

/** Where a proof request points. */
export type QueryPoint =
  /** The state chain's latest block when the request is made. */
  | { kind: 'latestBlock' }
  /** The latest block's timestamp when the request is made. */
  | { kind: 'latestTimestamp' }
  | { kind: 'block'; blockNumber: bigint };

export type Action =
  | { kind: 'register'; operator: string }
  | { kind: 'deregister'; operator: string }
  | { kind: 'setWeight'; operator: string; weight: bigint }
  /** The operator switches to its next spare key. */
  | { kind: 'rotateKey'; operator: string }
  | { kind: 'setValue'; chainId: number; user: string; key: bigint; value: bigint }
  /** `count` requests, `everyMs` apart (count 1: a single request). */
  | {
      kind: 'request';
      chainId: number;
      user: string;
      key: bigint;
      point: QueryPoint;
      count: number;
      everyMs: number;
    }
  /** Node names: operator names, or "registry". */
  | { kind: 'crash'; node: string }
  | { kind: 'restart'; node: string }
  | { kind: 'partition'; groups: string[][] }
  | { kind: 'heal' }
  | { kind: 'setBehaviour'; operator: string; behaviour: OperatorBehaviourSpec }
  | { kind: 'networkConditions'; conditions: Partial<NetworkConditionsSetup> }
  /** RPC faults on one chain (main chain id or a state chain id) for a while. */
  | {
      kind: 'rpcFault';
      chainId: number;
      /** Probability that a call fails. */
      errorRate: number;
      /** Added to every call. */
      latencyMs: number;
      /** Reads answer as of `staleBlocks` blocks ago. */
      staleBlocks: number;
      durationMs: number;
    }
  | { kind: 'reorg'; chainId: number; depth: number }
  | { kind: 'clockSkew'; node: string; skewMs: number }
  | { kind: 'unsuspend'; operator: string };

export type Comparison = '>=' | '<=' | '==' | '>' | '<';

/** When an assertion is checked: at the end, or it must hold at some point before a deadline. */
export type AssertionTiming =
  | { kind: 'final' }
  /** Must become true no later than this virtual time. */
  | { kind: 'within'; byMs: number }
  /** Must become true no later than the start of this epoch. */
  | { kind: 'withinEpoch'; epoch: number };

export type Assertion = { line: number; timing: AssertionTiming } & (
  | {
      kind: 'taskCount';
      outcome: 'completed' | 'failed' | 'expired' | 'pending' | 'all';
      comparison: Comparison;
      value: number;
    }
  | { kind: 'operatorStatus'; operator: string; status: OperatorStatus }
  | {
      kind: 'operatorCounter';
      operator: string;
      counter: 'missing' | 'successfulResponseCount';
      comparison: Comparison;
      value: number;
    }
  /** Request → final latency percentile of completed tasks. */
  | { kind: 'latency'; percentile: 50 | 95 | 99; comparison: Comparison; valueMs: number }
  | { kind: 'epoch'; comparison: Comparison; value: number }
);

/** A scenario file that does not validate: every message names file, line and field path. */
export class ScenarioError extends Error {
  readonly code = 'INVALID_SCENARIO';
  readonly file: string;
  readonly line: number | undefined;
  readonly path: string;

  constructor(file: string, path: string, line: number | undefined, problem: string) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${path || '(root)'}: ${problem}`);
    this.name = 'ScenarioError';
    this.file = file;
    this.line = line;
    this.path = path;
  }
}
