import { createSeededRng } from '../../src/adapters/rng/seeded-rng.ts';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';
import type { Rng } from '../../src/ports/rng.ts';
import {
  type Action,
  type Assertion,
  registryNames,
  type Scenario,
  type TimelineStep,
} from '../scenario/scenario.ts';
import { HOSTILE_ATTACKS } from './hostile-peer.ts';

/**
 * A swarm run (`--swarm`): each seed draws a set of faults for a safety phase (the first 60% of
 * the run) from the fault menu below, and the liveness phase that follows heals all of them.
 * Every invariant is checked throughout. Of the scenario's own assertions only the epoch ones
 * are kept (counts and latencies are not promised under arbitrary faults); in their place the
 * liveness phase sends requests of its own and requires them to complete (progress), and every
 * task to have ended by the end of the run.
 *
 * Bounds, whatever the seed: byzantine operators (the scenario's own included) hold less than a
 * third of the weight; fewer than half of the operators crash; no operator is both; RPC faults
 * and crashes end before the liveness phase.
 */

/** The safety phase is the first `SAFETY_SHARE` of the run. */
export const SAFETY_SHARE = 0.6;
/** After the heal: time for restarted nodes to rejoin and suspended operators to be lifted. */
export const LIVENESS_SETTLE_MS = 15_000;

/** The byzantine behaviours a seed may give an operator (SPEC §7). */
export const SWARM_BYZANTINE_BEHAVIOURS: readonly OperatorBehaviourSpec[] = [
  { kind: 'wrongValue' },
  { kind: 'badSignature' },
  { kind: 'silent' },
  { kind: 'slow', delayMs: 5_000 },
  { kind: 'equivocate' },
];

/** One fault a seed drew, for reports and the bounds test. */
export interface DrawnFault {
  /** The menu entry that drew it. */
  readonly fault: string;
  /** Nodes or chains it targets (`chain 10`). */
  readonly targets: readonly string[];
  readonly detail: string;
}

/** An operator the menu may pick: its weight and whether the scenario already made it byzantine. */
export interface SwarmOperator {
  readonly name: string;
  readonly weight: bigint;
  readonly byzantineInScenario: boolean;
}

/**
 * What a menu entry draws into: the steps of the safety phase, the steps that heal them at the
 * start of the liveness phase, and the bookkeeping that keeps every seed within the bounds.
 */
export interface SwarmPlan {
  readonly scenario: Scenario;
  /** Operators registered at the start, in scenario order. */
  readonly operators: readonly SwarmOperator[];
  readonly totalWeight: bigint;
  readonly healAtMs: number;
  readonly faults: DrawnFault[];
  /** Adds a step of the safety phase (before `healAtMs`). */
  inject(atMs: number, action: Action): void;
  /** Adds a step at `healAtMs`. */
  heal(action: Action): void;
  readonly crashed: Set<string>;
  readonly byzantine: Set<string>;
  /** Weight of every byzantine operator, the scenario's own included. */
  byzantineWeight(): bigint;
  /** Whether `operator` may crash without breaking the bounds. */
  mayCrash(operator: SwarmOperator): boolean;
  /** Whether `operator` may turn byzantine without breaking the bounds. */
  mayTurnByzantine(operator: SwarmOperator): boolean;
}

/** One entry of the fault menu: a kind of fault and how a seed draws it. */
export interface SwarmFaultCase {
  readonly name: string;
  /** Chance that a seed draws this entry at all. */
  readonly probability: number;
  /** Draws this entry's faults into the plan (within its bounds). */
  draw(plan: SwarmPlan, rng: Rng): void;
}

const pick = <T>(rng: Rng, items: readonly T[]): T | undefined => items[rng.int(items.length)];
/** A whole number of ms in [fromMs, toMs). */
const between = (rng: Rng, fromMs: number, toMs: number) =>
  fromMs + rng.int(Math.max(1, Math.floor(toMs - fromMs)));
const shuffled = <T>(rng: Rng, items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/**
 * The fault menu, in drawing order (the order is part of what a seed means: append new entries
 * at the end to keep earlier seeds' draws). Each entry keeps to the plan's bounds.
 */
export const SWARM_FAULT_MENU: readonly SwarmFaultCase[] = [
  {
    name: 'network rates',
    probability: 1,
    draw(plan, rng) {
      const conditions = {
        lossRate: Math.round(rng.next() * 0.1 * 1000) / 1000,
        duplicateRate: Math.round(rng.next() * 0.1 * 1000) / 1000,
        latencyMs: 5 + rng.int(150),
        jitterMs: rng.int(100),
      };
      plan.inject(0, { kind: 'networkConditions', conditions });
      plan.heal({ kind: 'networkConditions', conditions: { ...plan.scenario.network } });
      plan.faults.push({
        fault: 'network rates',
        targets: [],
        detail: `loss ${conditions.lossRate}, duplication ${conditions.duplicateRate}, latency ${conditions.latencyMs} ms, jitter ${conditions.jitterMs} ms`,
      });
    },
  },
  {
    name: 'operator crash',
    probability: 0.7,
    draw(plan, rng) {
      // One to (a minority of the operators) crash, each restarted before the heal.
      const wanted = 1 + rng.int(Math.max(1, Math.ceil(plan.operators.length / 2) - 1));
      for (const operator of shuffled(rng, plan.operators)) {
        if (plan.crashed.size >= wanted) break;
        if (!plan.mayCrash(operator)) continue;
        const crashAtMs = between(rng, plan.healAtMs * 0.1, plan.healAtMs * 0.7);
        const restartAtMs = Math.min(plan.healAtMs, crashAtMs + between(rng, 5_000, 30_000));
        plan.crashed.add(operator.name);
        plan.inject(crashAtMs, { kind: 'crash', node: operator.name });
        plan.inject(restartAtMs, { kind: 'restart', node: operator.name });
        plan.heal({ kind: 'restart', node: operator.name }); // no-op when already back
        plan.faults.push({
          fault: 'operator crash',
          targets: [operator.name],
          detail: `down ${crashAtMs} … ${restartAtMs} ms`,
        });
      }
    },
  },
  {
    name: 'byzantine operator',
    probability: 0.7,
    draw(plan, rng) {
      for (const operator of shuffled(rng, plan.operators)) {
        if (!plan.mayTurnByzantine(operator)) continue;
        if (plan.byzantine.size > 0 && rng.next() < 0.5) break;
        const behaviour = pick(rng, SWARM_BYZANTINE_BEHAVIOURS) ?? { kind: 'silent' };
        const fromMs = between(rng, 0, plan.healAtMs * 0.5);
        plan.byzantine.add(operator.name);
        plan.inject(fromMs, { kind: 'setBehaviour', operator: operator.name, behaviour });
        plan.heal({
          kind: 'setBehaviour',
          operator: operator.name,
          behaviour: { kind: 'honest' },
        });
        plan.faults.push({
          fault: 'byzantine operator',
          targets: [operator.name],
          detail: `${behaviour.kind} from ${fromMs} ms`,
        });
      }
    },
  },
  {
    name: 'rpc faults',
    probability: 0.5,
    draw(plan, rng) {
      const { mainChainId, stateChainIds } = plan.scenario.chain;
      const chainId = pick(rng, [mainChainId, ...stateChainIds]) ?? mainChainId;
      const fromMs = between(rng, 0, plan.healAtMs * 0.6);
      const durationMs = between(rng, 5_000, Math.max(5_001, plan.healAtMs - fromMs));
      const action: Action = {
        kind: 'rpcFault',
        chainId,
        errorRate: Math.round(rng.next() * 0.3 * 100) / 100,
        latencyMs: rng.int(800),
        staleBlocks: rng.int(3),
        durationMs: Math.min(durationMs, plan.healAtMs - fromMs),
      };
      plan.inject(fromMs, action);
      plan.faults.push({
        fault: 'rpc faults',
        targets: [`chain ${chainId}`],
        detail: `errors ${action.errorRate}, +${action.latencyMs} ms, stale ${action.staleBlocks} for ${action.durationMs} ms`,
      });
    },
  },
  {
    name: 'registry crash',
    probability: 0.5,
    draw(plan, rng) {
      const registry = pick(rng, registryNames(plan.scenario)) ?? 'registry';
      const crashAtMs = between(rng, plan.healAtMs * 0.2, plan.healAtMs * 0.8);
      const restartAtMs = Math.min(plan.healAtMs, crashAtMs + between(rng, 2_000, 10_000));
      plan.inject(crashAtMs, { kind: 'crash', node: registry });
      plan.inject(restartAtMs, { kind: 'restart', node: registry });
      plan.heal({ kind: 'restart', node: registry });
      plan.faults.push({
        fault: 'registry crash',
        targets: [registry],
        detail: `down ${crashAtMs} … ${restartAtMs} ms`,
      });
    },
  },
  {
    // A peer that never joined sends malformed, oversize and unauthorised messages and floods
    // the task topic (hostile-peer.ts); the nodes refuse each by name. Nothing to heal: it just
    // stops, and the liveness phase shows honest work was never blocked.
    name: 'hostile peer',
    probability: 0.5,
    draw(plan, rng) {
      const attacks = shuffled(rng, HOSTILE_ATTACKS).slice(0, 1 + rng.int(HOSTILE_ATTACKS.length));
      for (const attack of attacks) {
        const atMs = between(rng, 0, plan.healAtMs * 0.9);
        const count = attack === 'bogusTaskFlood' ? 20 + rng.int(200) : 1 + rng.int(5);
        plan.inject(atMs, { kind: 'hostile', attack, count });
        plan.faults.push({
          fault: 'hostile peer',
          targets: [],
          detail: `${attack} ×${count} at ${atMs} ms`,
        });
      }
    },
  },
];

/** Counts against the byzantine bound: anything but honest, or slow within the deadline. */
function isByzantineSpec(behaviour: OperatorBehaviourSpec, responseDeadlineMs: number): boolean {
  if (behaviour.kind === 'slow') return behaviour.delayMs >= responseDeadlineMs;
  return behaviour.kind !== 'honest';
}

/** The faults seed `seed` draws for `scenario`, as steps of each phase. */
export function drawSwarmFaults(
  scenario: Scenario,
  seed: number,
  menu: readonly SwarmFaultCase[] = SWARM_FAULT_MENU,
): { faults: DrawnFault[]; safety: TimelineStep[]; heal: TimelineStep[]; healAtMs: number } {
  const rng = createSeededRng(`swarm:${seed}`);
  const healAtMs = Math.floor(scenario.durationMs * SAFETY_SHARE);
  const operators: SwarmOperator[] = scenario.operators
    .filter((operator) => operator.registeredAtStart)
    .map((operator) => ({
      name: operator.name,
      weight: operator.weight,
      byzantineInScenario: isByzantineSpec(
        operator.behaviour,
        scenario.aggregator.responseDeadlineMs,
      ),
    }));
  const totalWeight = operators.reduce((sum, operator) => sum + operator.weight, 0n);
  const safety: TimelineStep[] = [];
  const heal: TimelineStep[] = [];
  const step = (atMs: number, action: Action): TimelineStep => ({
    at: { kind: 'time', atMs },
    line: 0,
    action,
  });
  const crashed = new Set<string>();
  const byzantine = new Set<string>();
  const byzantineWeight = () =>
    operators
      .filter((operator) => operator.byzantineInScenario || byzantine.has(operator.name))
      .reduce((sum, operator) => sum + operator.weight, 0n);
  const plan: SwarmPlan = {
    scenario,
    operators,
    totalWeight,
    healAtMs,
    faults: [],
    inject: (atMs, action) => {
      safety.push(step(Math.min(Math.max(0, Math.floor(atMs)), healAtMs - 1), action));
    },
    heal: (action) => {
      heal.push(step(healAtMs, action));
    },
    crashed,
    byzantine,
    byzantineWeight,
    mayCrash: (operator) =>
      !crashed.has(operator.name) &&
      !byzantine.has(operator.name) &&
      !operator.byzantineInScenario &&
      (crashed.size + 1) * 2 < operators.length,
    mayTurnByzantine: (operator) =>
      !crashed.has(operator.name) &&
      !byzantine.has(operator.name) &&
      !operator.byzantineInScenario &&
      (byzantineWeight() + operator.weight) * 3n < totalWeight,
  };
  for (const entry of menu) {
    // Every entry consumes the same draws whether or not it fires: entries stay independent.
    const fires = rng.next() < entry.probability;
    const entryRng = createSeededRng(`swarm:${seed}:${entry.name}`);
    if (fires) entry.draw(plan, entryRng);
  }
  return { faults: plan.faults, safety, heal, healAtMs };
}

/**
 * The liveness phase's own requests (progress): the scenario's first request, repeated every
 * few seconds once the healed nodes settled, ending an expiry before the run does. None when the
 * scenario requests nothing or the phase is too short.
 */
function livenessRequests(scenario: Scenario, healAtMs: number): TimelineStep | undefined {
  const template = scenario.timeline.find((step) => step.action.kind === 'request');
  if (template?.action.kind !== 'request') return undefined;
  const everyMs = Math.max(5_000, scenario.chain.blockTimeMs * 2);
  const fromMs = healAtMs + LIVENESS_SETTLE_MS;
  const lastByMs = scenario.durationMs - scenario.aggregator.expiryMs - 5_000;
  if (lastByMs < fromMs) return undefined;
  const count = 1 + Math.floor((lastByMs - fromMs) / everyMs);
  return {
    at: { kind: 'time', atMs: fromMs },
    line: 0,
    // The latest block, a new one each time: repeats of one query point would be one task.
    action: { ...template.action, point: { kind: 'latestBlock' }, count, everyMs },
  };
}

export function withSwarmFaults(scenario: Scenario, seed: number): Scenario {
  const { safety, heal, healAtMs } = drawSwarmFaults(scenario, seed);
  // Lift suspensions the faults caused (a no-op for operators that are not suspended), so the
  // liveness phase starts from a whole operator set.
  const unsuspend: TimelineStep[] = scenario.operators.map((operator) => ({
    at: { kind: 'time', atMs: healAtMs + 1 },
    line: 0,
    action: { kind: 'unsuspend', operator: operator.name },
  }));
  const progress = livenessRequests(scenario, healAtMs);
  const progressAssertions: Assertion[] =
    progress?.action.kind === 'request'
      ? [
          {
            line: 0,
            timing: { kind: 'final' },
            kind: 'taskCount',
            outcome: 'completed',
            comparison: '>=',
            value: progress.action.count,
          },
          {
            line: 0,
            timing: { kind: 'final' },
            kind: 'taskCount',
            outcome: 'pending',
            comparison: '==',
            value: 0,
          },
        ]
      : [];
  return {
    ...scenario,
    timeline: [
      ...scenario.timeline,
      ...safety,
      ...heal,
      ...unsuspend,
      ...(progress ? [progress] : []),
    ],
    // Under faults, counts and latencies are not promised; safety is (the invariants), and
    // progress once the faults are healed.
    assertions: [...scenario.assertions.filter((a) => a.kind === 'epoch'), ...progressAssertions],
  };
}
