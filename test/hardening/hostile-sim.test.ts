import { describe, expect, test } from 'vitest';
import { runScenario } from '../../sim/harness/run-scenario.ts';
import { parseScenario } from '../../sim/scenario/parse-scenario.ts';

/**
 * The simulator's hostile peer (the swarm menu's "hostile peer" entry) in one scripted run on
 * the sim network: 6 operators serve proofs while a peer that never joined sends every kind of
 * hostile input. The run must pass (every honest request completes, every invariant holds) and
 * the nodes must have refused each input by its name.
 */
const SCENARIO = `
name: hostile-peer
description: A stranger sends malformed, oversize and unauthorised messages and floods the task topic while proofs complete.
seed: 3
duration: 90s
chain: { epochLength: 10, gracePeriod: 2, blockTime: 2s, confirmations: 2, stateChains: [10] }
network: { latency: 10ms, jitter: 5ms, loss: 0, duplication: 0 }
aggregator: { responseDeadline: 3s, expiry: 15s, maxRetries: 3, selection: allActive }
operators:
  - count: 6
    weight: 100
users: [alice]
timeline:
  - at: 4s
    setValue: { chain: 10, user: alice, key: 1, value: 42 }
  - at: epoch 2
    request: { chain: 10, user: alice, key: 1, point: latest, every: 6s, count: 8 }
  - at: epoch 2
    hostile: { attack: malformedJoin, count: 3 }
  - at: epoch 2
    hostile: { attack: oversizeJoin, count: 2 }
  - at: epoch 3
    hostile: { attack: strangerResponse, count: 2 }
  - at: epoch 3
    hostile: { attack: bogusTaskFlood, count: 150 }
  - at: epoch 3
    hostile: { attack: oversizeTask, count: 1 }
  # Join spam: over the join rate limit, then banned (strikes run out), then refused outright.
  - at: epoch 4
    hostile: { attack: malformedJoin, count: 60 }
assertions:
  - tasks: { completed: ">= 8", failed: "== 0", expired: "== 0", pending: "== 0" }
`;

describe('hardening in the simulator', () => {
  test('behavior: every hostile input is refused by name while honest proofs complete', async () => {
    const scenario = parseScenario(SCENARIO, 'hostile-peer.yaml');
    const { result, trace } = await runScenario(scenario, {
      seed: scenario.defaultSeed,
      replayCommand: 'test/hardening/hostile-sim.test.ts',
      keepTrace: true,
    });
    const failed = [
      ...result.assertions.filter((a) => !a.passed).map((a) => `${a.description}: ${a.detail}`),
      ...result.violations.map((v) => `${v.invariant} at ${v.atMs} ms: ${v.detail}`),
    ];
    expect(failed).toEqual([]);
    const events = trace.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    const rejections = events.find((event) => event['kind'] === 'rejections') ?? {};
    // 3, then the burst of the 60 (the join limit: 10 at once, 2/s) until the 20th strike bans it.
    expect(rejections['malformed /spotted/join/1']).toBeGreaterThanOrEqual(3 + 10);
    expect(rejections['rate_limited /spotted/join/1']).toBeGreaterThan(0);
    // Banned: the rest of the 60 never reach the join handler (the connection is refused).
    const joinSpam = events.filter(
      (event) => event['kind'] === 'hostile' && event['attack'] === 'malformedJoin',
    );
    expect(Number(joinSpam.at(-1)?.['failed'])).toBeGreaterThan(30);
    expect(rejections['oversize /spotted/join/1']).toBe(2);
    expect(rejections['not_admitted /spotted/response/1']).toBe(2);
    // Each operator refuses the flood until it bans the stranger (then refuses it outright).
    expect(rejections['not_registry /spotted/task/1']).toBeGreaterThanOrEqual(6);
    expect(
      Number(rejections['oversize /spotted/task/1'] ?? 0) +
        Number(rejections['blacklisted connection'] ?? 0),
    ).toBeGreaterThan(0);
    // Nothing else was refused: honest nodes never hit a gate, a rate limit or a ban.
    const expectedKeys = new Set([
      'kind',
      'atMs',
      'malformed /spotted/join/1',
      'rate_limited /spotted/join/1',
      'oversize /spotted/join/1',
      'not_admitted /spotted/response/1',
      'not_registry /spotted/task/1',
      'oversize /spotted/task/1',
      'blacklisted connection',
      // The flood's messages already on their way when the ban came, each counted once.
      'blacklisted /spotted/task/1',
    ]);
    expect(Object.keys(rejections).filter((key) => !expectedKeys.has(key))).toEqual([]);
    expect(result.passed).toBe(true);
  }, 240_000);
});
