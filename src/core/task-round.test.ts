import fc from 'fast-check';
import type { Address, Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import type { EpochOperator } from './epoch-state.ts';
import { InvalidTaskConfigError } from './errors.ts';
import {
  advanceTaskTime,
  DEFAULT_TASK_ROUND_CONFIG,
  isTaskSettled,
  nextWakeUpAtMs,
  type OperatorReply,
  recordReply,
  retryCount,
  startTask,
  type TaskEvent,
  type TaskProgress,
  type TaskRoundConfig,
  type TaskStep,
} from './task-round.ts';
import { addressWithPrefix, epochOperator } from './test-fixtures.ts';

const [A, B, C, D, E, F, G, H] = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => addressWithPrefix(n, n)) as [
  Address,
  Address,
  Address,
  Address,
  Address,
  Address,
  Address,
  Address,
];
const SIGNATURE = `0x${'11'.repeat(65)}` as Hex;
const signed = (operator: Address): OperatorReply => ({
  kind: 'signed',
  operator,
  signature: SIGNATURE,
});
const refused = (operator: Address): OperatorReply => ({
  kind: 'refused',
  operator,
  reason: 'value mismatch',
});

/** Applies steps in order, collecting every event. */
function run(first: TaskStep, ...actions: ((task: TaskProgress) => TaskStep)[]) {
  let task = first.task;
  const events: TaskEvent[] = [...first.events];
  for (const action of actions) {
    const step = action(task);
    task = step.task;
    events.push(...step.events);
  }
  return { task, events };
}
const reply = (r: OperatorReply, atMs: number) => (task: TaskProgress) =>
  recordReply(task, r, atMs);
const tick = (atMs: number) => (task: TaskProgress) => advanceTaskTime(task, atMs);
const kinds = (events: readonly TaskEvent[]) => events.map((event) => event.kind);
const missed = (events: readonly TaskEvent[]) =>
  events.flatMap((event) =>
    event.kind === 'operatorMissed' ? [[event.operator, event.round, event.reason]] : [],
  );

describe('config', () => {
  test('behavior: defaults are 3 retries, a 3 s response deadline, 15 s expiry, ask everyone', () => {
    expect(DEFAULT_TASK_ROUND_CONFIG).toEqual({
      maxRetries: 3,
      responseDeadlineMs: 3_000,
      expiryMs: 15_000,
      selection: 'allActive',
    });
  });

  test.each([
    [{ maxRetries: -1 }],
    [{ maxRetries: 1.5 }],
    [{ responseDeadlineMs: 0 }],
    [{ expiryMs: Number.NaN }],
  ] as Partial<TaskRoundConfig>[][])('behavior: rejects %o', (config) => {
    expect(() =>
      startTask({
        epochOperators: [epochOperator(A, 1n)],
        thresholdWeightWei: 1n,
        nowMs: 0,
        config,
      }),
    ).toThrow(InvalidTaskConfigError);
  });
});

describe('completion', () => {
  const committee = [epochOperator(A, 3n), epochOperator(B, 3n), epochOperator(C, 4n)];

  test('behavior: completes when the collected weight reaches the threshold exactly', () => {
    const { task, events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 6n, nowMs: 1_000 }),
      reply(signed(A), 1_100),
      reply(signed(B), 1_200),
    );
    expect(task.status).toBe('completed');
    expect(events).toContainEqual({
      kind: 'completed',
      signatures: [
        { operator: A, signature: SIGNATURE },
        { operator: B, signature: SIGNATURE },
      ],
      signedWeightWei: 6n,
    });
  });

  test('behavior: one wei below the threshold is not enough', () => {
    const { task } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 7n, nowMs: 0 }),
      reply(signed(A), 100),
      reply(signed(B), 200),
    );
    expect(task).toMatchObject({ status: 'pending', signedWeightWei: 6n });
  });

  test('behavior: after completion the round stays open until its deadline, to count misses', () => {
    const { task, events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 6n, nowMs: 0 }),
      reply(signed(A), 100),
      reply(signed(B), 200),
    );
    expect(nextWakeUpAtMs(task)).toBe(3_000);
    expect(isTaskSettled(task)).toBe(false);
    const atDeadline = run({ task, events }, tick(3_000));
    expect(missed(atDeadline.events)).toEqual([[C, 0, 'noResponse']]);
    expect(isTaskSettled(atDeadline.task)).toBe(true);
    expect(nextWakeUpAtMs(atDeadline.task)).toBeNull();
  });

  test('behavior: a slower operator inside the deadline is not missing; its signature is not in the proof', () => {
    const { task, events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 6n, nowMs: 0 }),
      reply(signed(A), 100),
      reply(signed(B), 200),
      reply(signed(C), 2_999),
    );
    expect(missed(events)).toEqual([]);
    expect(task.signatures.map((entry) => entry.operator)).toEqual([A, B]);
    expect(isTaskSettled(task)).toBe(true);
  });
});

describe('deadlines and retries', () => {
  test('behavior: the deadline is half-open: a reply at 2999 ms counts, at 3000 ms it is late', () => {
    const committee = [epochOperator(A, 1n), epochOperator(B, 1n)];
    const inTime = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0 }),
      reply(signed(A), 2_999),
    );
    expect(missed(inTime.events)).toEqual([]);
    const late = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0 }),
      reply(signed(A), 3_000),
    );
    expect(missed(late.events)).toEqual([
      [A, 0, 'noResponse'],
      [B, 0, 'noResponse'],
    ]);
    expect(late.events.at(-1)).toEqual({
      kind: 'replyIgnored',
      operator: A,
      reason: 'roundClosed',
    });
  });

  test('behavior: asking everyone, a round that ends below the threshold fails the task (nobody new to ask)', () => {
    const committee = [epochOperator(A, 1n), epochOperator(B, 1n), epochOperator(C, 1n)];
    const { task, events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0 }),
      reply(signed(A), 10),
      reply(refused(B), 20),
      tick(3_000),
    );
    expect(task).toMatchObject({ status: 'failed', failureReason: 'thresholdUnreachable' });
    expect(missed(events)).toEqual([[C, 0, 'noResponse']]);
    expect(retryCount(task)).toBe(0);
  });

  test('behavior: once every asked operator has replied the round ends without waiting for the deadline', () => {
    const committee = [epochOperator(A, 1n), epochOperator(B, 1n)];
    const { task } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0 }),
      reply(refused(A), 10),
      reply(signed(B), 20),
    );
    expect(task).toMatchObject({ status: 'failed', failureReason: 'thresholdUnreachable' });
    expect(isTaskSettled(task)).toBe(true);
  });

  test('behavior: heaviestFirst retries without the refusers and completes with a fresh operator', () => {
    const committee = [
      epochOperator(A, 3n),
      epochOperator(B, 3n),
      epochOperator(C, 2n),
      epochOperator(D, 1n),
      epochOperator(E, 1n),
    ];
    const { task, events } = run(
      startTask({
        epochOperators: committee,
        thresholdWeightWei: 7n,
        nowMs: 0,
        config: { selection: 'heaviestFirst' },
      }),
      reply(signed(A), 10),
      reply(refused(C), 20),
      reply(signed(B), 30),
      reply(signed(D), 40),
    );
    expect(events.filter((event) => event.kind === 'roundStarted')).toEqual([
      { kind: 'roundStarted', round: 0, asked: [A, B, C], deadlineAtMs: 3_000 },
      { kind: 'roundStarted', round: 1, asked: [D], deadlineAtMs: 3_030 },
    ]);
    expect(task).toMatchObject({ status: 'completed', signedWeightWei: 7n });
    expect(retryCount(task)).toBe(1);
  });

  test('behavior: after 3 retries the task fails; every silent operator is missed once', () => {
    const committee = [A, B, C, D, E, F, G, H].map((operator) => epochOperator(operator, 1n));
    const { task, events } = run(
      startTask({
        epochOperators: committee,
        thresholdWeightWei: 2n,
        nowMs: 0,
        config: { selection: 'heaviestFirst' },
      }),
      tick(3_000),
      tick(6_000),
      tick(9_000),
      tick(12_000),
    );
    expect(task).toMatchObject({ status: 'failed', failureReason: 'retriesExhausted' });
    expect(retryCount(task)).toBe(3);
    expect(missed(events).map(([operator, round]) => [operator, round])).toEqual([
      [A, 0],
      [B, 0],
      [C, 1],
      [D, 1],
      [E, 2],
      [F, 2],
      [G, 3],
      [H, 3],
    ]);
    expect(isTaskSettled(task)).toBe(true);
  });

  test('behavior: an invalid signature is a miss at once, excluded from retries, never missed twice', () => {
    const committee = [epochOperator(A, 2n), epochOperator(B, 1n), epochOperator(C, 1n)];
    const { task, events } = run(
      startTask({
        epochOperators: committee,
        thresholdWeightWei: 2n,
        nowMs: 0,
        config: { selection: 'heaviestFirst' },
      }),
      reply({ kind: 'invalidSignature', operator: A }, 50),
    );
    expect(missed(events)).toEqual([[A, 0, 'invalidSignature']]);
    expect(task.rounds.map((round) => round.asked)).toEqual([[A], [B, C]]);
  });

  test('behavior: duplicate replies and replies from operators not asked are ignored', () => {
    const committee = [epochOperator(A, 1n), epochOperator(B, 1n)];
    const { events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0 }),
      reply(signed(A), 10),
      reply(refused(A), 20),
      reply(signed(H), 30),
    );
    expect(events.slice(-2)).toEqual([
      { kind: 'replyIgnored', operator: A, reason: 'duplicate' },
      { kind: 'replyIgnored', operator: H, reason: 'notAsked' },
    ]);
  });

  test('behavior: an epoch that cannot reach the threshold fails at once, asking nobody', () => {
    const step = startTask({
      epochOperators: [epochOperator(A, 1n)],
      thresholdWeightWei: 2n,
      nowMs: 0,
    });
    expect(step.events).toEqual([{ kind: 'failed', reason: 'thresholdUnreachable' }]);
    expect(step.task.rounds).toEqual([]);
  });
});

describe('expiry', () => {
  test('behavior: expires at expiry time; the open round still counts its misses at its deadline', () => {
    const committee = [epochOperator(A, 1n), epochOperator(B, 1n)];
    const config = { responseDeadlineMs: 10_000, expiryMs: 5_000 };
    const { task, events } = run(
      startTask({ epochOperators: committee, thresholdWeightWei: 2n, nowMs: 0, config }),
      reply(signed(A), 100),
      tick(5_000),
    );
    expect(task.status).toBe('expired');
    expect(nextWakeUpAtMs(task)).toBe(10_000);
    const later = run({ task, events }, tick(10_000));
    expect(kinds(later.events)).toEqual(['roundStarted', 'expired', 'operatorMissed']);
    expect(isTaskSettled(later.task)).toBe(true);
  });

  test('behavior: a timer that fires late expires the task, counts the misses and starts no retry', () => {
    const committee = [A, B, C, D].map((operator) => epochOperator(operator, 1n));
    const { task, events } = run(
      startTask({
        epochOperators: committee,
        thresholdWeightWei: 2n,
        nowMs: 0,
        config: { selection: 'heaviestFirst' },
      }),
      tick(16_000),
    );
    expect(kinds(events)).toEqual(['roundStarted', 'expired', 'operatorMissed', 'operatorMissed']);
    expect(task.rounds).toHaveLength(1);
    expect(isTaskSettled(task)).toBe(true);
  });
});

describe('properties', () => {
  type Behavior = { kind: 'signs' | 'refuses' | 'invalid'; delayMs: number } | { kind: 'silent' };
  const behavior: fc.Arbitrary<Behavior> = fc.oneof(
    fc.record({
      kind: fc.constantFrom('signs', 'refuses', 'invalid'),
      delayMs: fc.integer({ min: 0, max: 4_000 }),
    }),
    fc.constant({ kind: 'silent' } as const),
  );
  const scenario = fc
    .array(fc.record({ weightWei: fc.bigInt(1n, 10n), behavior }), { minLength: 1, maxLength: 8 })
    .chain((members) =>
      fc.record({
        members: fc.constant(
          members.map((member, index) => ({
            ...member,
            operator: addressWithPrefix(0x10 + index, index),
          })),
        ),
        thresholdWeightWei: fc.bigInt(1n, members.reduce((sum, m) => sum + m.weightWei, 0n) + 2n),
        selection: fc.constantFrom('allActive', 'heaviestFirst'),
      }),
    );

  /** Drives a task to the end: replies at round start + delay, ticks at every wake-up. */
  function simulate(
    members: { operator: Address; behavior: Behavior }[],
    epochOperators: EpochOperator[],
    thresholdWeightWei: bigint,
    selection: 'allActive' | 'heaviestFirst',
  ) {
    let step = startTask({ epochOperators, thresholdWeightWei, nowMs: 0, config: { selection } });
    let task = step.task;
    const events: TaskEvent[] = [];
    const queue: { atMs: number; reply: OperatorReply }[] = [];
    const absorb = (next: TaskStep) => {
      task = next.task;
      events.push(...next.events);
      for (const event of next.events) {
        if (event.kind !== 'roundStarted') continue;
        const startedAtMs = event.deadlineAtMs - DEFAULT_TASK_ROUND_CONFIG.responseDeadlineMs;
        for (const operator of event.asked) {
          const b = members.find((m) => m.operator === operator)?.behavior;
          if (b === undefined || b.kind === 'silent') continue;
          const atMs = startedAtMs + b.delayMs;
          if (b.kind === 'signs') queue.push({ atMs, reply: signed(operator) });
          if (b.kind === 'refuses') queue.push({ atMs, reply: refused(operator) });
          if (b.kind === 'invalid')
            queue.push({ atMs, reply: { kind: 'invalidSignature', operator } });
        }
      }
      queue.sort((x, y) => x.atMs - y.atMs);
    };
    absorb(step);
    for (let guard = 0; guard < 1_000; guard++) {
      const wake = nextWakeUpAtMs(task);
      const next = queue[0];
      if (next !== undefined && (wake === null || next.atMs < wake)) {
        queue.shift();
        step = recordReply(task, next.reply, next.atMs);
      } else if (wake !== null) {
        step = advanceTaskTime(task, wake);
      } else {
        break;
      }
      absorb(step);
    }
    return { task, events };
  }

  test('property: every task settles in exactly one of completed/failed/expired, within bounds', () => {
    fc.assert(
      fc.property(scenario, ({ members, thresholdWeightWei, selection }) => {
        const epochOperators = members.map((m) => epochOperator(m.operator, m.weightWei));
        const { task, events } = simulate(members, epochOperators, thresholdWeightWei, selection);

        expect(isTaskSettled(task)).toBe(true);
        const finals = events.filter(
          (e) => e.kind === 'completed' || e.kind === 'failed' || e.kind === 'expired',
        );
        expect(finals).toHaveLength(1);
        expect(finals[0]?.kind).toBe(task.status);
        expect(task.rounds.length).toBeLessThanOrEqual(1 + DEFAULT_TASK_ROUND_CONFIG.maxRetries);

        // at most one miss per operator per round, and only for operators asked in that round
        const misses = missed(events);
        expect(new Set(misses.map(([operator, round]) => `${operator}/${round}`)).size).toBe(
          misses.length,
        );
        for (const [operator, round] of misses) {
          expect(task.rounds[round as number]?.asked).toContain(operator);
        }

        const weightOf = (operator: Address) =>
          epochOperators.find((e) => e.operator === operator)?.weightWei ?? 0n;
        if (task.status === 'completed') {
          const completed = finals[0];
          if (completed?.kind !== 'completed') throw new Error('unreachable');
          const sum = completed.signatures.reduce((total, s) => total + weightOf(s.operator), 0n);
          expect(sum).toBe(completed.signedWeightWei);
          expect(sum >= thresholdWeightWei).toBe(true);
        } else {
          expect(task.signedWeightWei < thresholdWeightWei).toBe(true);
        }

        const totalWeight = members.reduce((total, m) => total + m.weightWei, 0n);
        if (totalWeight < thresholdWeightWei) {
          expect(task).toMatchObject({
            status: 'failed',
            failureReason: 'thresholdUnreachable',
            rounds: [],
          });
        } else if (selection === 'allActive') {
          // everyone is asked at once: the task completes iff the timely signers reach the threshold
          const timelyWeight = members
            .filter((m) => m.behavior.kind === 'signs' && m.behavior.delayMs < 3_000)
            .reduce((total, m) => total + m.weightWei, 0n);
          expect(task.status).toBe(timelyWeight >= thresholdWeightWei ? 'completed' : 'failed');
          const expectedMisses = members
            .filter(
              (m) =>
                m.behavior.kind === 'silent' ||
                m.behavior.delayMs >= 3_000 ||
                m.behavior.kind === 'invalid',
            )
            .map((m) => m.operator)
            .sort();
          expect(misses.map(([operator]) => operator).sort()).toEqual(expectedMisses);
        }
      }),
      { numRuns: 300 },
    );
  });
});
