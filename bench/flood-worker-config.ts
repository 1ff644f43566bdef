/**
 * The flood bench's configuration and result (`flood-worker.ts`), apart from the worker so that
 * `run.ts` can import them without running it.
 */
import type { LatencySummary } from './lib/measure.ts';

export interface FloodConfig {
  operators: number;
  /** Sequential honest proofs per phase (quiet, flood). */
  samples: number;
  /** Quiet and flood blocks alternate this many times (samples / rounds proofs per block; 3). */
  rounds?: number;
  /** Hostile peers publishing at once. */
  flooders: number;
  /** Bogus tasks each flooder publishes per second. */
  ratePerFlooderPerSec: number;
  /**
   * Diagnostic: the flooders run (same CPU) but connect to no node, so their messages go
   * nowhere. The ratio then shows what the attacker's own CPU costs on this machine.
   */
  detached?: boolean;
}

export interface FloodResult {
  operators: number;
  quiet?: LatencySummary;
  flood?: LatencySummary;
  /** flood p50 / quiet p50; the target is ≤ 2. */
  p50Ratio?: number;
  bogusTasksSent: number;
  /**
   * Bogus tasks per second the flooders actually published during the flood phase: they run at
   * the lowest CPU priority, so on a busy machine they fall short of the configured rate.
   */
  bogusTasksPerSec?: number;
  /** Flooder identities used (replaced once banned by every operator). */
  flooderIdentities: number;
  /** Rejections the nodes counted during the flood, `reason channel` → count. */
  rejections: Record<string, number>;
  /** Honest proofs that did not complete (must be 0). */
  honestFailures: number;
  wallMs: number;
}

/**
 * What `pnpm bench --flood` runs: 4 operators and a sybil flood of 1000 bogus tasks per second
 * (4 hostile peers at a time, each replaced once banned). The flooders share the machine with
 * the nodes; `detached: true` runs the same flooders connected to nothing, to tell their CPU
 * apart from the cost of the defence.
 */
export const FLOOD_CONFIG: FloodConfig = {
  operators: 4,
  samples: 15,
  rounds: 3,
  flooders: 4,
  ratePerFlooderPerSec: 250,
};
