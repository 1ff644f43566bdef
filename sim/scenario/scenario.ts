import type { OperatorStatus } from '../../src/core/operator-status.ts';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';
import type { HostileAttack } from '../harness/hostile-peer.ts';

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
  /**
   * Registry node names when the scenario lists them (absent: one registry named "registry";
   * use `registryNames`). The first is where requests and operator assertions go unless they
   * name another (`via`).
   */
  registries?: string[];
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
  /** The registries the node is configured with (joins only these); absent: all of them. */
  registries?: readonly string[];
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
      /** The registry asked; undefined: the first registry that is running. */
      via?: string;
    }
  /** Node names: operator names or registry names. */
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
  /**
   * From now on (until `durationMs` passes) the registry's view of the main chain reports every
   * operator's weight at an epoch multiplied by `weightFactor`: a wrong event stream fed to one
   * registry only.
   */
  | { kind: 'corruptChainView'; registry: string; weightFactor: bigint; durationMs: number }
  | { kind: 'clockSkew'; node: string; skewMs: number }
  | { kind: 'unsuspend'; operator: string }
  /** A peer that never joined sends `count` hostile messages of one kind (`hostile-peer.ts`). */
  | { kind: 'hostile'; attack: HostileAttack; count: number };

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
  | { kind: 'operatorStatus'; operator: string; status: OperatorStatus; via?: string }
  | {
      kind: 'operatorCounter';
      operator: string;
      /** Whose store is read; undefined: the first registry. */
      via?: string;
      counter: 'missing' | 'successfulResponseCount';
      comparison: Comparison;
      value: number;
    }
  /** Request → final latency percentile of completed tasks. */
  | { kind: 'latency'; percentile: 50 | 95 | 99; comparison: Comparison; valueMs: number }
  | { kind: 'epoch'; comparison: Comparison; value: number }
  /** Every running registry holds the same latest epoch with the same state hash. */
  | { kind: 'registryStateHashAgree' }
  /** Every running registry shows the same status, `missing` and successes for each operator. */
  | { kind: 'registryCountersAgree' }
  /** A registry's replication counters (state-hash divergences detected / repaired). */
  | {
      kind: 'registryCounter';
      registry: string;
      counter: RegistryCounterName;
      comparison: Comparison;
      value: number;
    }
);

/** The node name of the registry in a scenario that does not list registries. */
export const DEFAULT_REGISTRY_NAME = 'registry';

/** The scenario's registry node names, in order (at least one). */
export function registryNames(scenario: Pick<Scenario, 'registries'>): string[] {
  return scenario.registries === undefined || scenario.registries.length === 0
    ? [DEFAULT_REGISTRY_NAME]
    : [...scenario.registries];
}

export const REGISTRY_COUNTERS = ['divergencesDetected', 'divergencesRepaired'] as const;
export type RegistryCounterName = (typeof REGISTRY_COUNTERS)[number];

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
