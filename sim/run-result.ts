/**
 * What a simulator run produces, independent of how it is shown: the report (`sim/report/`)
 * renders this, the CLI prints it, tests assert on it. All times are virtual milliseconds since
 * the run started unless a field says otherwise.
 */

export type TaskOutcome = 'completed' | 'failed' | 'expired' | 'pending';

export interface TaskSummary {
  taskId: string;
  requestedAtMs: number;
  /** When it reached its final status; undefined while pending. */
  endedAtMs?: number;
  outcome: TaskOutcome;
  epoch: number;
  retries: number;
  /** Operators whose signatures the proof holds (completed only). */
  signers: string[];
  /** The registry it was requested from (only when the scenario runs several). */
  via?: string;
}

export interface OperatorSummary {
  /** Scenario name, e.g. "op07". */
  name: string;
  address: string;
  weight: string;
  status: string;
  missing: number;
  successfulResponseCount: number;
  behaviour: string;
  /** Status changes over the run, in order. */
  statusHistory: { atMs: number; status: string }[];
}

export interface FaultWindow {
  kind: string;
  /** Who it applied to (node names), empty for network-wide faults. */
  targets: string[];
  fromMs: number;
  /** Undefined when still active at the end. */
  toMs?: number;
  detail: string;
}

export interface InvariantViolation {
  invariant: string;
  atMs: number;
  nodes: string[];
  detail: string;
}

export interface AssertionResult {
  description: string;
  passed: boolean;
  detail: string;
}

export interface RunResult {
  scenario: string;
  seed: number;
  network: 'sim' | 'libp2p';
  /**
   * libp2p only: deliveries that took so long (wall time) that virtual time moved on without them
   * (expected 0; more means the run's timing was not what the scenario meant).
   */
  networkStalls?: number;
  /** The exact command that replays this run. */
  replayCommand: string;
  passed: boolean;
  virtualDurationMs: number;
  wallDurationMs: number;
  /** virtualDurationMs / wallDurationMs. */
  compressionRatio: number;
  finalEpoch: number;
  /** When each epoch began (virtual ms), in order; the report draws them as boundaries. */
  epochStarts?: { epoch: number; atMs: number }[];
  tasks: TaskSummary[];
  operators: OperatorSummary[];
  faults: FaultWindow[];
  assertions: AssertionResult[];
  violations: InvariantViolation[];
  /** sha256 of the JSONL trace (sim network only: libp2p runs are not bit-reproducible). */
  traceHash: string;
  traceEventCount: number;
  /** Where the trace and report were written. */
  tracePath?: string;
  reportPath?: string;
}

/** One line of the JSONL trace. `kind` names the source; the rest is its data. */
export interface TraceEvent {
  atMs: number;
  kind: string;
  [field: string]: unknown;
}
