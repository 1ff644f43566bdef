import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPERATOR_STATUSES } from '../../src/core/operator-status.ts';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';
import { formatScenario } from './format-scenario.ts';
import { loadScenario, parseScenario } from './parse-scenario.ts';
import {
  type Action,
  type Assertion,
  type AssertionTiming,
  type OperatorSetup,
  type Scenario,
  ScenarioError,
  type StepTime,
  type TimelineStep,
} from './scenario.ts';
import { formatDuration, MAX_UINT256, parseDuration, parseUint256 } from './values.ts';

const REPO = join(import.meta.dirname, '..', '..');
const SCENARIOS = join(REPO, 'scenarios');

/** The 1-based line of the only line containing `snippet`. */
function lineOf(text: string, snippet: string): number {
  const lines = text.split('\n');
  const found = lines.flatMap((line, index) => (line.includes(snippet) ? [index + 1] : []));
  if (found.length !== 1) throw new Error(`${JSON.stringify(snippet)} is on ${found.length} lines`);
  return found[0] as number;
}

function errorOf(text: string, file = 's.yaml'): ScenarioError {
  try {
    parseScenario(text, file);
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error('expected a ScenarioError');
}

const honest: OperatorBehaviourSpec = { kind: 'honest' };

const FULL_EXAMPLE = `name: epoch-rollover
description: Operators register, activate at their effective epoch and serve proofs across epoch boundaries.
seed: 1
duration: 6m            # durations: "90s", "1500ms", "6m", "2h"
chain: { epochLength: 12, gracePeriod: 3, blockTime: 2s, confirmations: 2, stateChains: [10] }
network: { latency: 20ms, jitter: 10ms, loss: 0, duplication: 0 }
aggregator: { responseDeadline: 3s, expiry: 15s, maxRetries: 3, selection: allActive }
operators:
  - count: 20            # generates op00..op19
    weight: 100
  - name: slowpoke
    weight: 50
    behaviour: { slow: 5s }   # honest | silent | wrongValue | badSignature | equivocate | { slow: 5s } | { flood: 10 }
  - name: latecomer
    weight: 100
    registered: false
    spareKeys: 1
users: [alice, bob]
timeline:
  - at: 10s
    setValue: { chain: 10, user: alice, key: 1, value: 42 }
  - at: epoch 2
    request: { chain: 10, user: alice, key: 1, point: latest, every: 10s, count: 20 }
  - at: epoch 3
    crash: op03
  - at: 4m
    partition: [[registry, op00, op01], [op02]]
assertions:
  - tasks: { completed: ">= 20", failed: "== 0" }     # may expand to several assertions
  - operator: op03
    status: suspended
    within: epoch 5              # or "within: 2m", or omitted = at the end
  - operator: op04
    missing: "<= 1"
  - latency: { p95: "<= 5s" }
  - epoch: ">= 4"
`;

describe('parseScenario: the full example', () => {
  it('parses to the expected object', () => {
    const l = (snippet: string) => lineOf(FULL_EXAMPLE, snippet);
    const expected: Scenario = {
      name: 'epoch-rollover',
      description:
        'Operators register, activate at their effective epoch and serve proofs across epoch boundaries.',
      defaultSeed: 1,
      durationMs: 360_000,
      chain: {
        epochLengthBlocks: 12,
        gracePeriodBlocks: 3,
        blockTimeMs: 2000,
        confirmations: 2,
        stateChainIds: [10],
        mainChainId: 31337,
      },
      network: { latencyMs: 20, jitterMs: 10, lossRate: 0, duplicateRate: 0 },
      aggregator: {
        responseDeadlineMs: 3000,
        expiryMs: 15_000,
        maxRetries: 3,
        selection: 'allActive',
      },
      operators: [
        ...Array.from(
          { length: 20 },
          (_, i): OperatorSetup => ({
            name: `op${String(i).padStart(2, '0')}`,
            weight: 100n,
            behaviour: honest,
            registeredAtStart: true,
            spareKeys: 0,
          }),
        ),
        {
          name: 'slowpoke',
          weight: 50n,
          behaviour: { kind: 'slow', delayMs: 5000 },
          registeredAtStart: true,
          spareKeys: 0,
        },
        {
          name: 'latecomer',
          weight: 100n,
          behaviour: honest,
          registeredAtStart: false,
          spareKeys: 1,
        },
      ],
      users: ['alice', 'bob'],
      timeline: [
        {
          at: { kind: 'time', atMs: 10_000 },
          line: l('at: 10s'),
          action: { kind: 'setValue', chainId: 10, user: 'alice', key: 1n, value: 42n },
        },
        {
          at: { kind: 'epoch', epoch: 2 },
          line: l('at: epoch 2'),
          action: {
            kind: 'request',
            chainId: 10,
            user: 'alice',
            key: 1n,
            point: { kind: 'latestBlock' },
            count: 20,
            everyMs: 10_000,
          },
        },
        {
          at: { kind: 'epoch', epoch: 3 },
          line: l('at: epoch 3'),
          action: { kind: 'crash', node: 'op03' },
        },
        {
          at: { kind: 'time', atMs: 240_000 },
          line: l('at: 4m'),
          action: { kind: 'partition', groups: [['registry', 'op00', 'op01'], ['op02']] },
        },
      ],
      assertions: [
        {
          line: l('tasks:'),
          timing: { kind: 'final' },
          kind: 'taskCount',
          outcome: 'completed',
          comparison: '>=',
          value: 20,
        },
        {
          line: l('tasks:'),
          timing: { kind: 'final' },
          kind: 'taskCount',
          outcome: 'failed',
          comparison: '==',
          value: 0,
        },
        {
          line: l('status: suspended'),
          timing: { kind: 'withinEpoch', epoch: 5 },
          kind: 'operatorStatus',
          operator: 'op03',
          status: 'suspended',
        },
        {
          line: l('missing:'),
          timing: { kind: 'final' },
          kind: 'operatorCounter',
          operator: 'op04',
          counter: 'missing',
          comparison: '<=',
          value: 1,
        },
        {
          line: l('- latency:'),
          timing: { kind: 'final' },
          kind: 'latency',
          percentile: 95,
          comparison: '<=',
          valueMs: 5000,
        },
        {
          line: l('epoch: ">= 4"'),
          timing: { kind: 'final' },
          kind: 'epoch',
          comparison: '>=',
          value: 4,
        },
      ],
    };
    expect(parseScenario(FULL_EXAMPLE, 'example.yaml')).toEqual(expected);
  });

  it('parses the example in README.md', () => {
    const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const scenario = parseScenario(example ?? '', 'README.md');
    expect(scenario.operators.map((o) => o.name)).toContain('latecomer');
    expect(scenario.timeline.map((s) => s.action.kind)).toEqual([
      'setValue',
      'request',
      'register',
      'crash',
      'rotateKey',
      'partition',
      'heal',
    ]);
    expect(scenario.assertions).toHaveLength(7);
  });
});

describe('parseScenario: defaults and shorthands', () => {
  it('fills in every default', () => {
    const scenario = parseScenario('name: tiny\nduration: 1m\noperators: 2\n', 'tiny.yaml');
    expect(scenario).toEqual({
      name: 'tiny',
      description: '',
      defaultSeed: 1,
      durationMs: 60_000,
      chain: {
        epochLengthBlocks: 12,
        gracePeriodBlocks: 3,
        blockTimeMs: 2000,
        confirmations: 2,
        stateChainIds: [10],
        mainChainId: 31337,
      },
      network: { latencyMs: 20, jitterMs: 10, lossRate: 0, duplicateRate: 0 },
      aggregator: {
        responseDeadlineMs: 3000,
        expiryMs: 15_000,
        maxRetries: 3,
        selection: 'allActive',
      },
      operators: ['op00', 'op01'].map((name) => ({
        name,
        weight: 100n,
        behaviour: honest,
        registeredAtStart: true,
        spareKeys: 0,
      })),
      users: ['alice'],
      timeline: [],
      assertions: [],
    } satisfies Scenario);
  });

  it('defaults request and setValue to the first state chain and the first user', () => {
    const scenario = parseScenario(
      `name: t
duration: 5m
chain: { stateChains: [10, 20] }
operators: 1
users: [carol, dave]
timeline:
  - at: 1s
    setValue: { key: 1, value: 2 }
  - at: 2s
    request: { key: 1 }
  - at: 3s
    request: { chain: main, user: dave, key: 1, point: { block: 7 } }
  - at: 4s
    request: { chain: 20, key: "0x01", point: 9 }
  - at: 5s
    request: { key: 1, point: latestTimestamp, count: 1, every: 1s }
`,
      't.yaml',
    );
    expect(scenario.timeline.map((step) => step.action)).toEqual([
      { kind: 'setValue', chainId: 10, user: 'carol', key: 1n, value: 2n },
      {
        kind: 'request',
        chainId: 10,
        user: 'carol',
        key: 1n,
        point: { kind: 'latestBlock' },
        count: 1,
        everyMs: 0,
      },
      {
        kind: 'request',
        chainId: 31337,
        user: 'dave',
        key: 1n,
        point: { kind: 'block', blockNumber: 7n },
        count: 1,
        everyMs: 0,
      },
      {
        kind: 'request',
        chainId: 20,
        user: 'carol',
        key: 1n,
        point: { kind: 'block', blockNumber: 9n },
        count: 1,
        everyMs: 0,
      },
      {
        kind: 'request',
        chainId: 10,
        user: 'carol',
        key: 1n,
        point: { kind: 'latestTimestamp' },
        count: 1,
        everyMs: 1000,
      },
    ] satisfies Action[]);
  });

  it('defaults to the main chain when there are no other state chains', () => {
    const scenario = parseScenario(
      `name: t
duration: 5m
chain: { stateChains: [], mainChainId: 5 }
operators: 1
timeline:
  - at: 1s
    setValue: { key: 1, value: 2 }
`,
      't.yaml',
    );
    expect(scenario.chain.stateChainIds).toEqual([]);
    expect(scenario.timeline[0]?.action).toMatchObject({ kind: 'setValue', chainId: 5 });
  });

  it('leaves the main chain out of the default state chains when its id is 10', () => {
    const scenario = parseScenario(
      'name: t\nduration: 5m\nchain: { mainChainId: 10 }\noperators: 1\n',
      't.yaml',
    );
    expect(scenario.chain).toMatchObject({ mainChainId: 10, stateChainIds: [] });
  });

  it('names groups per prefix, numbering on across groups, one width per prefix', () => {
    const scenario = parseScenario(
      `name: t
duration: 5m
operators:
  - count: 3
  - solo
  - count: 2
    prefix: byz
    behaviour: silent
  - count: 8
    weight: "0x10"
`,
      't.yaml',
    );
    expect(scenario.operators.map((o) => o.name)).toEqual([
      'op00',
      'op01',
      'op02',
      'solo',
      'byz00',
      'byz01',
      'op03',
      'op04',
      'op05',
      'op06',
      'op07',
      'op08',
      'op09',
      'op10',
    ]);
    expect(scenario.operators.find((o) => o.name === 'byz01')?.behaviour).toEqual({
      kind: 'silent',
    });
    expect(scenario.operators.at(-1)?.weight).toBe(16n);
    const hundred = parseScenario('name: t\nduration: 5m\noperators: 100\n', 't.yaml').operators;
    expect([hundred[0]?.name, hundred[99]?.name]).toEqual(['op00', 'op99']);
    const more = parseScenario('name: t\nduration: 5m\noperators: 101\n', 't.yaml').operators;
    expect([more[0]?.name, more[100]?.name]).toEqual(['op000', 'op100']);
  });

  it('reads every action and assertion form', () => {
    const text = `name: t
duration: 10m
operators:
  - count: 2
  - name: x
    spareKeys: 2
    registered: false
timeline:
  - at: 0
    register: x
  - at: 1s
    deregister: op00
  - at: 2s
    setWeight: { operator: op01, weight: 115792089237316195423570985008687907853269984665640564039457584007913129639935 }
  - at: 3s
    rotateKey: x
  - at: epoch 7
    rotateKey: x
  - at: 4s
    crash: registry
  - at: 5s
    restart: registry
  - at: 6s
    partition: [[op01]]
  - at: 7s
    heal: true
  - at: 8s
    heal: {}
  - at: 9s
    setBehaviour: { operator: op01, behaviour: { flood: 10 } }
  - at: 10s
    networkConditions: { loss: "2.5%", jitter: 0 }
  - at: 11s
    rpcFault: { chain: main, staleBlocks: 3, duration: 1m }
  - at: 12s
    reorg: { chain: 10, depth: 2 }
  - at: 13s
    clockSkew: { node: op00, skew: -1.5s }
  - at: 14s
    unsuspend: op00
assertions:
  - tasks: { all: 3, pending: "< 1", expired: "> 0" }
    within: 10m
  - operator: [op00, x]
    status: waitingJoin
    successfulResponseCount: ">= 2"
    within: epoch 1
  - latency: { p50: "< 1s", p99: "== 2m" }
`;
    const scenario = parseScenario(text, 't.yaml');
    expect(scenario.timeline.map((s) => s.action)).toEqual([
      { kind: 'register', operator: 'x' },
      { kind: 'deregister', operator: 'op00' },
      { kind: 'setWeight', operator: 'op01', weight: MAX_UINT256 },
      { kind: 'rotateKey', operator: 'x' },
      { kind: 'rotateKey', operator: 'x' },
      { kind: 'crash', node: 'registry' },
      { kind: 'restart', node: 'registry' },
      { kind: 'partition', groups: [['op01']] },
      { kind: 'heal' },
      { kind: 'heal' },
      { kind: 'setBehaviour', operator: 'op01', behaviour: { kind: 'flood', count: 10 } },
      { kind: 'networkConditions', conditions: { jitterMs: 0, lossRate: 0.025 } },
      {
        kind: 'rpcFault',
        chainId: 31337,
        errorRate: 0,
        latencyMs: 0,
        staleBlocks: 3,
        durationMs: 60_000,
      },
      { kind: 'reorg', chainId: 10, depth: 2 },
      { kind: 'clockSkew', node: 'op00', skewMs: -1500 },
      { kind: 'unsuspend', operator: 'op00' },
    ] satisfies Action[]);
    const within: AssertionTiming = { kind: 'within', byMs: 600_000 };
    const inEpoch: AssertionTiming = { kind: 'withinEpoch', epoch: 1 };
    const l = (snippet: string) => lineOf(text, snippet);
    expect(scenario.assertions).toEqual([
      {
        line: l('tasks:'),
        timing: within,
        kind: 'taskCount',
        outcome: 'all',
        comparison: '==',
        value: 3,
      },
      {
        line: l('tasks:'),
        timing: within,
        kind: 'taskCount',
        outcome: 'pending',
        comparison: '<',
        value: 1,
      },
      {
        line: l('tasks:'),
        timing: within,
        kind: 'taskCount',
        outcome: 'expired',
        comparison: '>',
        value: 0,
      },
      {
        line: l('status:'),
        timing: inEpoch,
        kind: 'operatorStatus',
        operator: 'op00',
        status: 'waitingJoin',
      },
      {
        line: l('successfulResponseCount:'),
        timing: inEpoch,
        kind: 'operatorCounter',
        operator: 'op00',
        counter: 'successfulResponseCount',
        comparison: '>=',
        value: 2,
      },
      {
        line: l('status:'),
        timing: inEpoch,
        kind: 'operatorStatus',
        operator: 'x',
        status: 'waitingJoin',
      },
      {
        line: l('successfulResponseCount:'),
        timing: inEpoch,
        kind: 'operatorCounter',
        operator: 'x',
        counter: 'successfulResponseCount',
        comparison: '>=',
        value: 2,
      },
      {
        line: l('latency:'),
        timing: { kind: 'final' },
        kind: 'latency',
        percentile: 50,
        comparison: '<',
        valueMs: 999 + 1,
      },
      {
        line: l('latency:'),
        timing: { kind: 'final' },
        kind: 'latency',
        percentile: 99,
        comparison: '==',
        valueMs: 120_000,
      },
    ] satisfies Assertion[]);
  });

  it('puts each assertion of a block map on its own line', () => {
    const text =
      'name: t\nduration: 5m\noperators: 1\nassertions:\n  - tasks:\n      completed: ">= 1"\n      failed: 0\n';
    expect(parseScenario(text, 't.yaml').assertions.map((a) => a.line)).toEqual([6, 7]);
  });

  it('follows YAML anchors and aliases', () => {
    const text = `name: t
duration: 5m
operators:
  - name: a
    behaviour: &lazy { slow: 4s }
  - name: b
    behaviour: *lazy
`;
    expect(parseScenario(text, 't.yaml').operators.map((o) => o.behaviour)).toEqual([
      { kind: 'slow', delayMs: 4000 },
      { kind: 'slow', delayMs: 4000 },
    ]);
  });

  it('keeps a multi-line description and trims its end', () => {
    const text = 'name: t\ndescription: >\n  Two\n  lines.\nduration: 5m\noperators: 1\n';
    expect(parseScenario(text, 't.yaml').description).toBe('Two lines.');
  });
});

describe('values', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['1500ms', 1500],
    ['90s', 90_000],
    ['6m', 360_000],
    ['2h', 7_200_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0.25m', 15_000],
    ['2.5ms', 'not a whole number of milliseconds'],
    ['90', 'a duration needs a unit'],
    ['10 seconds', 'expected a duration'],
    ['1s2m', 'units must go from largest to smallest'],
    ['1s1s', 'units must go from largest to smallest'],
    ['-5s', 'negative duration "-5s"'],
    ['', 'expected a duration'],
    ['9007199254740992ms', 'is too long'],
  ] as const)('duration %j → %j', (text, expected) => {
    if (typeof expected === 'number') expect(parseDuration(text)).toBe(expected);
    else expect(() => parseDuration(text)).toThrow(expected);
  });

  it('reads negative durations only when allowed', () => {
    expect(parseDuration('-1m30s', { allowNegative: true })).toBe(-90_000);
  });

  it('formats durations so that they parse back', () => {
    expect([0, 1, 999, 1000, 1500, 60_000, 90_000, 3_723_004, -2500].map(formatDuration)).toEqual([
      '0s',
      '1ms',
      '999ms',
      '1s',
      '1s500ms',
      '1m',
      '1m30s',
      '1h2m3s4ms',
      '-2s500ms',
    ]);
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (ms) => {
        expect(parseDuration(formatDuration(ms), { allowNegative: true })).toBe(ms);
      }),
    );
  });

  it.each([
    [0n, 0n],
    [42n, 42n],
    ['42', 42n],
    ['0x2a', 42n],
    ['0x2A', 42n],
    [7, 7n],
    [MAX_UINT256, MAX_UINT256],
    [MAX_UINT256.toString(), MAX_UINT256],
    [`0x${'f'.repeat(64)}`, MAX_UINT256],
    ['1000000000000000001', 1_000_000_000_000_000_001n],
  ] as const)('uint256 %s', (input, expected) => {
    expect(parseUint256(input)).toBe(expected);
  });

  it.each([
    [MAX_UINT256 + 1n, 'exceeds 2^256 - 1'],
    [`0x1${'0'.repeat(64)}`, 'exceeds 2^256 - 1'],
    [-1n, 'must not be negative'],
    ['-1', 'must not be negative'],
    ['1e18', 'expected an integer, or a decimal or 0x string'],
    ['12abc', 'expected an integer'],
    [1.5, 'got the number 1.5'],
  ] as const)('uint256 refuses %s', (input, problem) => {
    expect(() => parseUint256(input)).toThrow(problem);
  });

  it('reads 2^256 - 1 exactly from YAML, as a plain integer and as strings', () => {
    const max = MAX_UINT256.toString();
    const text = `name: t
duration: 5m
operators:
  - name: a
    weight: ${max}
  - name: b
    weight: "${max}"
  - name: c
    weight: "0x${'f'.repeat(64)}"
  - name: d
    weight: 0x10
  - name: e
    weight: 1000000000000000001
`;
    expect(parseScenario(text, 't.yaml').operators.map((o) => o.weight)).toEqual([
      MAX_UINT256,
      MAX_UINT256,
      MAX_UINT256,
      16n,
      1_000_000_000_000_000_001n,
    ]);
  });
});

/** A scenario with four operators op00…op03, then `extra` (line 5 onwards). */
const base = (extra: string) => `name: t\nduration: 5m\noperators:\n  - count: 4\n${extra}`;

describe('parseScenario: errors name file, line, path and problem', () => {
  it.each([
    // keys
    [
      'unknown key, close',
      'name: t\nduration: 5m\noperator:\n  - count: 4\n',
      's.yaml:3: operator: unknown key (did you mean "operators"?)',
    ],
    [
      'unknown key, not close',
      'name: t\nduration: 5m\nfoo: 1\noperators: 4\n',
      's.yaml:3: foo: unknown key; expected one of name, description, seed, duration, chain, network, aggregator, operators, users, registries, timeline, assertions',
    ],
    [
      'unknown nested key',
      base('chain: { epochLenght: 12 }\n'),
      's.yaml:5: chain.epochLenght: unknown key (did you mean "epochLength"?)',
    ],
    [
      'unknown key in a step',
      base('timeline:\n  - at: 10s\n    request: { key: 1, evry: 2s }\n'),
      's.yaml:7: timeline[0].request.evry: unknown key (did you mean "every"?)',
    ],
    [
      'missing required key',
      'duration: 5m\noperators: 4\n',
      's.yaml:1: name: is required but missing',
    ],
    [
      'missing duration',
      'name: t\noperators: 4\n',
      's.yaml:1: duration: is required but missing (how long the run lasts in virtual time, e.g. 5m)',
    ],
    [
      'missing at',
      base('timeline:\n  - crash: op00\n'),
      's.yaml:6: timeline[0].at: is required but missing (e.g. at: 90s or at: epoch 3)',
    ],
    [
      'key that is not a name',
      base('chain:\n  10: 4\n'),
      's.yaml:6: chain: keys must be names, got 10',
    ],
    // types
    [
      'wrong type: number',
      base('chain:\n  epochLength: twelve\n'),
      's.yaml:6: chain.epochLength: expected a whole number, got "twelve"',
    ],
    [
      'wrong type: quoted number',
      base('seed: "3"\n'),
      's.yaml:5: seed: expected a whole number, got "3"',
    ],
    [
      'wrong type: map for list',
      base('users: { alice: 1 }\n'),
      's.yaml:5: users: expected a list of user names, e.g. [alice, bob], got a map',
    ],
    [
      'wrong type: boolean',
      base('  - name: x\n    registered: yes\n'),
      's.yaml:6: operators[1].registered: expected true or false, got "yes"',
    ],
    [
      'wrong type: empty value',
      'name: t\nduration:\noperators: 4\n',
      's.yaml:2: duration: expected a duration such as 1500ms, 90s, 6m, 2h or 1m30s, got nothing',
    ],
    [
      'root is a list',
      '- a\n',
      's.yaml:1: (root): expected a map with at least name, duration and operators, got a list',
    ],
    [
      'empty file',
      '',
      's.yaml:1: (root): the file is empty; a scenario is a map with at least name, duration and operators',
    ],
    // durations
    [
      'negative duration',
      base('timeline:\n  - at: 10s\n    request: { key: 1, every: -10s, count: 3 }\n'),
      's.yaml:7: timeline[0].request.every: negative duration "-10s"',
    ],
    [
      'duration without unit',
      base('timeline:\n  - at: 10s\n    request: { key: 1, count: 3, every: 10 }\n'),
      's.yaml:7: timeline[0].request.every: a duration needs a unit (ms, s, m or h), e.g. "10ms" or "10s"; got 10',
    ],
    [
      'malformed duration',
      base('network: { latency: 20 millis }\n'),
      's.yaml:5: network.latency: expected a duration such as 1500ms, 90s, 6m, 2h or 1m30s, got "20 millis"',
    ],
    [
      'duration units out of order',
      base('network: { latency: 1s2m }\n'),
      's.yaml:5: network.latency: units must go from largest to smallest, each at most once (e.g. "1m30s"); got "1s2m"',
    ],
    [
      'fractional milliseconds',
      base('network: { latency: 1.0005s }\n'),
      's.yaml:5: network.latency: "1.0005s" is not a whole number of milliseconds',
    ],
    [
      'zero run duration',
      'name: t\nduration: 0s\noperators: 4\n',
      's.yaml:2: duration: must be at least 1ms, got 0s',
    ],
    [
      'slow too long',
      'name: t\nduration: 5m\noperators:\n  - name: a\n    behaviour: { slow: 11m }\n',
      's.yaml:5: operators[0].behaviour.slow: must be at most 10m, got 11m',
    ],
    // chain
    [
      'blockTime below 1 s',
      base('chain: { blockTime: 500ms }\n'),
      's.yaml:5: chain.blockTime: must be at least 1s (block timestamps are whole seconds), got 500ms',
    ],
    [
      'gracePeriod = epochLength',
      base('chain: { epochLength: 8, gracePeriod: 8 }\n'),
      's.yaml:5: chain.gracePeriod: must be less than epochLength (8), got 8',
    ],
    [
      'gracePeriod > epochLength',
      base('chain:\n  epochLength: 8\n  gracePeriod: 9\n'),
      's.yaml:7: chain.gracePeriod: must be less than epochLength (8), got 9',
    ],
    [
      'epochLength ≤ default gracePeriod',
      base('chain: { epochLength: 3 }\n'),
      's.yaml:5: chain.epochLength: must be greater than gracePeriod (3 by default), got 3',
    ],
    [
      'epochLength 0',
      base('chain: { epochLength: 0, gracePeriod: 0 }\n'),
      's.yaml:5: chain.epochLength: must be at least 1 blocks, got 0',
    ],
    [
      'main chain listed',
      base('chain: { stateChains: [10, 31337] }\n'),
      's.yaml:5: chain.stateChains[1]: 31337 is the main chain, which always has a StateManager; list only the other chains',
    ],
    [
      'state chain twice',
      base('chain:\n  stateChains:\n    - 10\n    - 10\n'),
      's.yaml:8: chain.stateChains[1]: chain 10 is listed twice',
    ],
    // network, aggregator
    [
      'probability above 1',
      base('network: { loss: 1.5 }\n'),
      's.yaml:5: network.loss: must be between 0 and 1 (or 0% and 100%), got 1.5',
    ],
    [
      'probability as a word',
      base('network: { loss: none }\n'),
      's.yaml:5: network.loss: expected a probability between 0 and 1, or a percentage such as "5%", got "none"',
    ],
    [
      'unknown selection',
      base('aggregator: { selection: heaviest }\n'),
      's.yaml:5: aggregator.selection: unknown selection "heaviest" (did you mean "heaviestFirst"?); expected one of allActive, heaviestFirst',
    ],
    [
      'maxRetries negative',
      base('aggregator: { maxRetries: -1 }\n'),
      's.yaml:5: aggregator.maxRetries: must be at least 0, got -1',
    ],
    // operators
    [
      'count and name in one item',
      'name: t\nduration: 5m\noperators:\n  - name: a\n    count: 4\n',
      's.yaml:5: operators[0].count: an item is either one operator (name) or a group of operators (count), not both',
    ],
    [
      'item with neither',
      'name: t\nduration: 5m\noperators:\n  - weight: 4\n',
      's.yaml:4: operators[0]: an operator item needs a name (or a count, to generate a group)',
    ],
    [
      'prefix on a named operator',
      'name: t\nduration: 5m\noperators:\n  - name: a\n    prefix: b\n',
      's.yaml:5: operators[0].prefix: prefix applies only to a group (count)',
    ],
    [
      'duplicate operator name',
      'name: t\nduration: 5m\noperators:\n  - count: 4\n  - name: op02\n',
      's.yaml:5: operators[1].name: duplicate operator name "op02" (already declared by operators[0])',
    ],
    [
      'duplicate generated name',
      'name: t\nduration: 5m\noperators:\n  - op01\n  - count: 3\n',
      's.yaml:5: operators[1].count: duplicate operator name "op01" (already declared by operators[0])',
    ],
    [
      'operator name not alphanumeric',
      'name: t\nduration: 5m\noperators:\n  - name: op-1\n',
      's.yaml:4: operators[0].name: operator names are letters and digits, starting with a letter; got "op-1"',
    ],
    [
      'operator named registry',
      'name: t\nduration: 5m\noperators:\n  - registry\n',
      's.yaml:4: operators[0]: "registry" is the registry node\'s name; pick another',
    ],
    [
      'no operators',
      'name: t\nduration: 5m\noperators: []\n',
      's.yaml:3: operators: needs at least one operator',
    ],
    [
      'count 0',
      'name: t\nduration: 5m\noperators:\n  - count: 0\n',
      's.yaml:4: operators[0].count: must be at least 1 operators, got 0',
    ],
    // behaviours
    [
      'unknown behaviour',
      'name: t\nduration: 5m\noperators:\n  - count: 4\n    behaviour: silnet\n',
      's.yaml:5: operators[0].behaviour: unknown behaviour "silnet" (did you mean "silent"?); expected honest, silent, wrongValue, badSignature, equivocate, { slow: <duration> } or { flood: <count> }',
    ],
    [
      'unknown behaviour map',
      'name: t\nduration: 5m\noperators:\n  - count: 4\n    behaviour: { sloww: 5s }\n',
      's.yaml:5: operators[0].behaviour.sloww: unknown behaviour "sloww" (did you mean "slow"?); expected honest, silent, wrongValue, badSignature, equivocate, { slow: <duration> } or { flood: <count> }',
    ],
    [
      'slow without delay',
      'name: t\nduration: 5m\noperators:\n  - count: 4\n    behaviour: slow\n',
      's.yaml:5: operators[0].behaviour: slow needs a delay: write { slow: 5s }',
    ],
    [
      'flood without count',
      base('timeline:\n  - at: 1s\n    setBehaviour: { operator: op00, behaviour: flood }\n'),
      's.yaml:7: timeline[0].setBehaviour.behaviour: flood needs a count: write { flood: 10 }',
    ],
    [
      'flood too many',
      base(
        'timeline:\n  - at: 1s\n    setBehaviour: { operator: op00, behaviour: { flood: 5000 } }\n',
      ),
      's.yaml:7: timeline[0].setBehaviour.behaviour.flood: must be at most 1000 messages, got 5000',
    ],
    [
      'parameter on a simple behaviour',
      base(
        'timeline:\n  - at: 1s\n    setBehaviour: { operator: op00, behaviour: { silent: true } }\n',
      ),
      's.yaml:7: timeline[0].setBehaviour.behaviour.silent: silent takes no parameter: write behaviour: silent',
    ],
    // references
    [
      'unknown node',
      base('timeline:\n  - at: 10s\n    crash: op7\n'),
      's.yaml:7: timeline[0].crash: unknown node "op7" (nodes: registry, op00, op01, op02, op03)',
    ],
    [
      'unknown operator',
      base('timeline:\n  - at: 10s\n    deregister: op0\n'),
      's.yaml:7: timeline[0].deregister: unknown operator "op0" (did you mean "op00"?) (operators: op00, op01, op02, op03)',
    ],
    [
      'registry is not an operator',
      base('timeline:\n  - at: 10s\n    deregister: registry\n'),
      's.yaml:7: timeline[0].deregister: this action needs an operator; "registry" is the registry node',
    ],
    [
      'many operators are summarised',
      'name: t\nduration: 5m\noperators: 20\ntimeline:\n  - at: 1s\n    unsuspend: bob\n',
      's.yaml:6: timeline[0].unsuspend: unknown operator "bob" (operators: op00, op01, op02, …, op18, op19 (20 in all))',
    ],
    [
      'unknown operator in an assertion',
      base('assertions:\n  - operator: [op01, op09]\n    status: active\n'),
      's.yaml:6: assertions[0].operator[1]: unknown operator "op09" (did you mean "op00"?) (operators: op00, op01, op02, op03)',
    ],
    [
      'unknown user',
      base('timeline:\n  - at: 1m\n    setValue: { user: alcie, key: 1, value: 2 }\n'),
      's.yaml:7: timeline[0].setValue.user: unknown user "alcie" (did you mean "alice"?) (users: alice; declare users under "users")',
    ],
    [
      'unknown chain',
      base('timeline:\n  - at: 1m\n    setValue: { chain: 11, key: 1, value: 2 }\n'),
      's.yaml:7: timeline[0].setValue.chain: chain 11 is not in this scenario (chains: 31337 (main), 10; add it to chain.stateChains)',
    ],
    [
      'duplicate user',
      base('users: [alice, bob, alice]\n'),
      's.yaml:5: users[2]: duplicate user "alice"',
    ],
    // partitions
    [
      'partition naming an unknown node',
      base('timeline:\n  - at: 10s\n    partition: [[registry, op00], [op09]]\n'),
      's.yaml:7: timeline[0].partition[1][0]: unknown node "op09" (did you mean "op00"?) (nodes: registry, op00, op01, op02, op03)',
    ],
    [
      'node in two groups',
      base(
        'timeline:\n  - at: 10s\n    partition:\n      - [registry, op00]\n      - [op01, op00]\n',
      ),
      's.yaml:9: timeline[0].partition[1][1]: op00 is already in group 0',
    ],
    [
      'flat partition',
      base('timeline:\n  - at: 10s\n    partition: [op00, op01]\n'),
      's.yaml:7: timeline[0].partition[0]: each group is a list of node names; to cut "op00" off alone write [[op00]]',
    ],
    [
      'empty group',
      base('timeline:\n  - at: 10s\n    partition: [[op00], []]\n'),
      's.yaml:7: timeline[0].partition[1]: a group needs at least one node',
    ],
    // steps
    [
      'epoch N not whole',
      base('timeline:\n  - at: epoch 2.5\n    crash: op00\n'),
      's.yaml:6: timeline[0].at: in "epoch N", N must be a whole number, got "epoch 2.5"',
    ],
    [
      'epoch without N',
      base('timeline:\n  - at: epoch\n    crash: op00\n'),
      's.yaml:6: timeline[0].at: in "epoch N", N must be a whole number, got "epoch"',
    ],
    [
      'bare number as a time',
      base('timeline:\n  - at: 30\n    crash: op00\n'),
      's.yaml:6: timeline[0].at: expected a time such as 90s or "epoch 3", got 30 (a time needs a unit; an epoch is written "epoch 30")',
    ],
    [
      'step after the end',
      base('timeline:\n  - at: 5m\n    crash: op00\n'),
      's.yaml:6: timeline[0].at: 5m is not before the end of the run (duration 5m)',
    ],
    [
      'requests past the end',
      base('timeline:\n  - at: 1m\n    request: { key: 1, count: 30, every: 10s }\n'),
      's.yaml:7: timeline[0].request.count: the last of 30 requests would be made at 5m50s, not before the run ends at 5m',
    ],
    [
      'every missing',
      base('timeline:\n  - at: 10s\n    request: { key: 1, count: 3 }\n'),
      's.yaml:7: timeline[0].request.every: is required when count is more than 1 (count: 3)',
    ],
    [
      'step without action',
      base('timeline:\n  - at: 10s\n'),
      's.yaml:6: timeline[0]: a step needs one action: register, deregister, setWeight, rotateKey, setValue, request, crash, restart, partition, heal, setBehaviour, networkConditions, rpcFault, reorg, clockSkew, unsuspend, corruptChainView, hostile',
    ],
    [
      'step with two actions',
      base('timeline:\n  - at: 10s\n    restart: op00\n    crash: op00\n'),
      's.yaml:8: timeline[0].crash: a step has exactly one action, but this one has both restart and crash; split it into two steps',
    ],
    [
      'heal with a value',
      base('timeline:\n  - at: 10s\n    heal: false\n'),
      's.yaml:7: timeline[0].heal: heal takes no value (write "heal:" or "heal: true"), got false',
    ],
    [
      'more rotations than spare keys',
      base(
        '  - name: r\n    spareKeys: 1\ntimeline:\n  - at: 1m\n    rotateKey: r\n  - at: 2m\n    rotateKey: r\n',
      ),
      's.yaml:11: timeline[1].rotateKey: r has spareKeys: 1, so it cannot rotate a 2nd time (give it spareKeys: 2)',
    ],
    [
      'rotation without spare keys',
      base('timeline:\n  - at: 1m\n    rotateKey: op01\n'),
      's.yaml:7: timeline[0].rotateKey: op01 has spareKeys: 0, so it cannot rotate its key (give it spareKeys: 1)',
    ],
    [
      'rpc fault without effect',
      base('timeline:\n  - at: 10s\n    rpcFault: { chain: main, duration: 10s }\n'),
      's.yaml:7: timeline[0].rpcFault: has no effect: give at least one of errorRate, latency, staleBlocks',
    ],
    [
      'rpc fault without chain',
      base('timeline:\n  - at: 10s\n    rpcFault: { errorRate: 0.5, duration: 10s }\n'),
      's.yaml:7: timeline[0].rpcFault.chain: is required but missing (a chain id or "main")',
    ],
    [
      'empty network conditions',
      base('timeline:\n  - at: 10s\n    networkConditions: {}\n'),
      's.yaml:7: timeline[0].networkConditions: needs at least one of latency, jitter, loss, duplication',
    ],
    [
      'reorg depth 0',
      base('timeline:\n  - at: 10s\n    reorg: { chain: 10, depth: 0 }\n'),
      's.yaml:7: timeline[0].reorg.depth: must be at least 1 blocks, got 0',
    ],
    // uint256
    [
      'uint256 as a float',
      base('timeline:\n  - at: 10s\n    setValue: { key: 1e3, value: 1 }\n'),
      's.yaml:7: timeline[0].setValue.key: expected an integer, or a decimal or 0x string, got the float 1e3 (floats are inexact: write the integer, or quote it)',
    ],
    [
      'uint256 too large',
      base(`timeline:\n  - at: 10s\n    setValue: { key: 1, value: "${MAX_UINT256 + 1n}" }\n`),
      `s.yaml:7: timeline[0].setValue.value: ${MAX_UINT256 + 1n} exceeds 2^256 - 1`,
    ],
    [
      'uint256 negative',
      base('timeline:\n  - at: 10s\n    setValue: { key: -1, value: 1 }\n'),
      's.yaml:7: timeline[0].setValue.key: must not be negative, got -1',
    ],
    [
      'block number beyond uint64',
      base(
        'timeline:\n  - at: 10s\n    request: { key: 1, point: { block: 18446744073709551616 } }\n',
      ),
      's.yaml:7: timeline[0].request.point.block: a block number fits in uint64, got 18446744073709551616',
    ],
    [
      'unknown point',
      base('timeline:\n  - at: 10s\n    request: { key: 1, point: lastest }\n'),
      's.yaml:7: timeline[0].request.point: unknown point "lastest" (did you mean "latest"?); expected latest, latestBlock, latestTimestamp or { block: N }',
    ],
    // assertions
    [
      'percentile other than 50/95/99',
      base('assertions:\n  - latency: { p90: "<= 5s" }\n'),
      's.yaml:6: assertions[0].latency.p90: p90 is not a supported percentile; use p50, p95 or p99',
    ],
    [
      'malformed comparison operator',
      base('assertions:\n  - tasks: { completed: "=> 5" }\n'),
      's.yaml:6: assertions[0].tasks.completed: malformed comparison "=> 5": expected one of >=, <=, ==, >, < and a value, e.g. ">= 5" (did you mean ">="?)',
    ],
    [
      'malformed comparison operand',
      base('assertions:\n  - tasks:\n      completed: ">= five"\n'),
      's.yaml:7: assertions[0].tasks.completed: malformed comparison ">= five": "five" is not a whole number',
    ],
    [
      'comparison without operand',
      base('assertions:\n  - epoch: ">="\n'),
      's.yaml:6: assertions[0].epoch: malformed comparison ">=": expected one of >=, <=, ==, >, < and a value, e.g. ">= 5"',
    ],
    [
      'latency without comparison',
      base('assertions:\n  - latency: { p95: 5s }\n'),
      's.yaml:6: assertions[0].latency.p95: needs a comparison: write "<= 5s" (or >=, ==, >, <)',
    ],
    [
      'latency with a malformed duration',
      base('assertions:\n  - latency: { p95: "<= 5 seconds" }\n'),
      's.yaml:6: assertions[0].latency.p95: malformed comparison "<= 5 seconds": expected a duration such as 1500ms, 90s, 6m, 2h or 1m30s, got "5 seconds"',
    ],
    [
      'unknown outcome',
      base('assertions:\n  - tasks: { complete: 5 }\n'),
      's.yaml:6: assertions[0].tasks.complete: unknown key (did you mean "completed"?)',
    ],
    [
      'unknown status',
      base('assertions:\n  - operator: op01\n    status: suspend\n'),
      's.yaml:7: assertions[0].status: unknown status "suspend" (did you mean "suspended"?); expected one of waitingJoin, waitingActive, active, unactive, suspended',
    ],
    [
      'two subjects',
      base('assertions:\n  - epoch: ">= 2"\n    tasks: { all: 3 }\n'),
      's.yaml:7: assertions[0].tasks: one check per item: this item has both epoch and tasks; split it into two items',
    ],
    [
      'no subject',
      base('assertions:\n  - within: 1m\n'),
      's.yaml:6: assertions[0]: an assertion needs one of tasks, operator, latency, epoch, registries, registry',
    ],
    [
      'counter without operator',
      base('assertions:\n  - missing: 3\n'),
      's.yaml:6: assertions[0].missing: needs an "operator" in the same item',
    ],
    [
      'counter on another subject',
      base('assertions:\n  - epoch: 3\n    status: active\n'),
      's.yaml:7: assertions[0].status: belongs to an operator assertion, not a epoch assertion',
    ],
    [
      'operator without check',
      base('assertions:\n  - operator: op01\n'),
      's.yaml:6: assertions[0]: an operator assertion needs status, missing, successfulResponseCount (at least one)',
    ],
    [
      'within after the end',
      base('assertions:\n  - epoch: ">= 2"\n    within: 6m\n'),
      's.yaml:7: assertions[0].within: 6m is after the end of the run (duration 5m)',
    ],
    [
      'within epoch 0',
      base('assertions:\n  - epoch: ">= 2"\n    within: epoch 0\n'),
      's.yaml:7: assertions[0].within: epoch 0 starts before the run; use epoch 1 or later',
    ],
    // YAML syntax
    [
      'unquoted >= comparison',
      base('assertions:\n  - tasks:\n      completed: >= 5\n'),
      's.yaml:7: (root): YAML syntax error: Block scalar header includes extra characters: >= (a comparison that starts with ">" must be quoted, e.g. completed: ">= 20")',
    ],
    [
      'unclosed flow list',
      base('timeline:\n  - at: 10s\n    crash: [op00\n'),
      's.yaml:8: (root): YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    [
      'duplicate key',
      base('chain:\n  epochLength: 8\n  epochLength: 9\n'),
      's.yaml:7: (root): YAML syntax error: Map keys must be unique',
    ],
    [
      'bad indentation',
      'name: t\nduration: 5m\n  operators: 4\n',
      's.yaml:2: (root): YAML syntax error: Nested mappings are not allowed in compact mappings',
    ],
    [
      'unknown tag',
      base('seed: !foo 3\n'),
      's.yaml:5: (root): YAML syntax error: Unresolved tag: !foo',
    ],
  ] as const)('%s', (_label, text, message) => {
    expect(errorOf(text).message).toBe(message);
  });

  it('carries file, line, path and code', () => {
    const error = errorOf(
      base('timeline:\n  - at: 10s\n    request: { key: 1, every: -10s, count: 3 }\n'),
      'scenarios/x.yaml',
    );
    expect(error).toBeInstanceOf(ScenarioError);
    expect(error.code).toBe('INVALID_SCENARIO');
    expect(error.file).toBe('scenarios/x.yaml');
    expect(error.line).toBe(7);
    expect(error.path).toBe('timeline[0].request.every');
  });

  it('reports a file that cannot be read', () => {
    expect(() => loadScenario('/nonexistent/dir/x.yaml')).toThrow(
      /^\/nonexistent\/dir\/x\.yaml: \(root\): cannot read the file: ENOENT/,
    );
  });
});

// ------------------------------------------------------------------------------------------
// Round trip: random valid scenarios, written as YAML, parse back equal.

const nameArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,7}$/).filter((n) => n !== 'registry');
const uintArb = fc.bigInt({ min: 0n, max: MAX_UINT256 });
const probabilityArb = fc.double({ min: 0, max: 1, noNaN: true }).map((p) => (p === 0 ? 0 : p));
const chainIdArb = fc.integer({ min: 1, max: 2 ** 32 - 1 });
const behaviourArb: fc.Arbitrary<OperatorBehaviourSpec> = fc.oneof(
  fc.constantFrom<OperatorBehaviourSpec>(
    { kind: 'honest' },
    { kind: 'silent' },
    { kind: 'wrongValue' },
    { kind: 'badSignature' },
    { kind: 'equivocate' },
  ),
  fc
    .integer({ min: 0, max: 600_000 })
    .map((delayMs): OperatorBehaviourSpec => ({ kind: 'slow', delayMs })),
  fc
    .integer({ min: 1, max: 1000 })
    .map((count): OperatorBehaviourSpec => ({ kind: 'flood', count })),
);
const comparisonArb = fc.constantFrom('>=', '<=', '==', '>', '<' as const);

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    name: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''),
    description: fc.string({ maxLength: 60 }).map((s) => s.trim()),
    defaultSeed: fc.integer({ min: 0, max: 2 ** 31 }),
    durationMs: fc.integer({ min: 1, max: 10 * 3_600_000 }),
    epochLengthBlocks: fc.integer({ min: 1, max: 100 }),
    graceFraction: fc.double({ min: 0, max: 0.999, noNaN: true }),
    blockTimeMs: fc.integer({ min: 1000, max: 10_000 }),
    confirmations: fc.integer({ min: 0, max: 20 }),
    mainChainId: chainIdArb,
    stateChainIds: fc.uniqueArray(chainIdArb, { maxLength: 3 }),
    network: fc.record({
      latencyMs: fc.integer({ min: 0, max: 5000 }),
      jitterMs: fc.integer({ min: 0, max: 5000 }),
      lossRate: probabilityArb,
      duplicateRate: probabilityArb,
    }),
    aggregator: fc.record({
      responseDeadlineMs: fc.integer({ min: 1, max: 60_000 }),
      expiryMs: fc.integer({ min: 1, max: 600_000 }),
      maxRetries: fc.integer({ min: 0, max: 100 }),
      selection: fc.constantFrom('allActive', 'heaviestFirst' as const),
    }),
    operators: fc.uniqueArray(
      fc.record({
        name: nameArb,
        weight: uintArb,
        behaviour: behaviourArb,
        registeredAtStart: fc.boolean(),
        spareKeys: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: 6, selector: (o) => o.name },
    ),
    users: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }),
  })
  .chain((b) => {
    const stateChainIds = b.stateChainIds.filter((id) => id !== b.mainChainId);
    const chainIds = [b.mainChainId, ...stateChainIds];
    const operatorNames = b.operators.map((o) => o.name);
    const nodes = ['registry', ...operatorNames];
    const op = fc.constantFrom(...operatorNames);
    const node = fc.constantFrom(...nodes);
    const chain = fc.constantFrom(...chainIds);
    const user = fc.constantFrom(...b.users);
    const atArb: fc.Arbitrary<StepTime> = fc.oneof(
      fc
        .integer({ min: 0, max: b.durationMs - 1 })
        .map((atMs): StepTime => ({ kind: 'time', atMs })),
      fc.integer({ min: 0, max: 1000 }).map((epoch): StepTime => ({ kind: 'epoch', epoch })),
    );
    const actionArb: fc.Arbitrary<Action> = fc.oneof(
      fc.record({
        kind: fc.constantFrom('register', 'deregister', 'rotateKey', 'unsuspend' as const),
        operator: op,
      }),
      fc.record({ kind: fc.constant('setWeight' as const), operator: op, weight: uintArb }),
      fc.record({
        kind: fc.constant('setValue' as const),
        chainId: chain,
        user,
        key: uintArb,
        value: uintArb,
      }),
      fc
        .record({
          kind: fc.constant('request' as const),
          chainId: chain,
          user,
          key: uintArb,
          point: fc.oneof(
            fc.constantFrom({ kind: 'latestBlock' as const }, { kind: 'latestTimestamp' as const }),
            fc
              .bigInt({ min: 0n, max: (1n << 64n) - 1n })
              .map((blockNumber) => ({ kind: 'block' as const, blockNumber })),
          ),
          count: fc.integer({ min: 1, max: 5 }),
          everyMs: fc.integer({ min: 1, max: 10_000 }),
        })
        .map((r) => (r.count === 1 && r.everyMs % 2 === 0 ? { ...r, everyMs: 0 } : r)),
      fc.record({ kind: fc.constantFrom('crash', 'restart' as const), node }),
      fc
        .uniqueArray(fc.tuple(node, fc.integer({ min: 0, max: 2 })), {
          minLength: 1,
          maxLength: 6,
          selector: ([n]) => n,
        })
        .map((assigned): Action => {
          const groups = [0, 1, 2]
            .map((g) => assigned.filter(([, index]) => index === g).map(([n]) => n))
            .filter((g) => g.length > 0);
          return { kind: 'partition', groups };
        }),
      fc.constant<Action>({ kind: 'heal' }),
      fc.record({
        kind: fc.constant('setBehaviour' as const),
        operator: op,
        behaviour: behaviourArb,
      }),
      fc
        .record(
          {
            latencyMs: fc.integer({ min: 0, max: 5000 }),
            jitterMs: fc.integer({ min: 0, max: 5000 }),
            lossRate: probabilityArb,
            duplicateRate: probabilityArb,
          },
          { requiredKeys: [] },
        )
        .filter((c) => Object.keys(c).length > 0)
        .map((conditions): Action => ({ kind: 'networkConditions', conditions })),
      fc
        .record({
          kind: fc.constant('rpcFault' as const),
          chainId: chain,
          errorRate: probabilityArb,
          latencyMs: fc.integer({ min: 0, max: 10_000 }),
          staleBlocks: fc.integer({ min: 0, max: 1000 }),
          durationMs: fc.integer({ min: 1, max: 600_000 }),
        })
        .filter((f) => f.errorRate > 0 || f.latencyMs > 0 || f.staleBlocks > 0),
      fc.record({
        kind: fc.constant('reorg' as const),
        chainId: chain,
        depth: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({
        kind: fc.constant('clockSkew' as const),
        node,
        skewMs: fc.integer({ min: -100_000, max: 100_000 }),
      }),
    );
    const timingArb: fc.Arbitrary<AssertionTiming> = fc.oneof(
      fc.constant<AssertionTiming>({ kind: 'final' }),
      fc
        .integer({ min: 0, max: b.durationMs })
        .map((byMs): AssertionTiming => ({ kind: 'within', byMs })),
      fc
        .integer({ min: 1, max: 1000 })
        .map((epoch): AssertionTiming => ({ kind: 'withinEpoch', epoch })),
    );
    const count = fc.integer({ min: 0, max: 1000 });
    const assertionArb: fc.Arbitrary<Assertion> = fc.oneof(
      fc.record({
        line: fc.constant(0),
        timing: timingArb,
        kind: fc.constant('taskCount' as const),
        outcome: fc.constantFrom('completed', 'failed', 'expired', 'pending', 'all' as const),
        comparison: comparisonArb,
        value: count,
      }),
      fc.record({
        line: fc.constant(0),
        timing: timingArb,
        kind: fc.constant('operatorStatus' as const),
        operator: op,
        status: fc.constantFrom(...OPERATOR_STATUSES),
      }),
      fc.record({
        line: fc.constant(0),
        timing: timingArb,
        kind: fc.constant('operatorCounter' as const),
        operator: op,
        counter: fc.constantFrom('missing', 'successfulResponseCount' as const),
        comparison: comparisonArb,
        value: count,
      }),
      fc.record({
        line: fc.constant(0),
        timing: timingArb,
        kind: fc.constant('latency' as const),
        percentile: fc.constantFrom(50, 95, 99 as const),
        comparison: comparisonArb,
        valueMs: fc.integer({ min: 0, max: 3_600_000 }),
      }),
      fc.record({
        line: fc.constant(0),
        timing: timingArb,
        kind: fc.constant('epoch' as const),
        comparison: comparisonArb,
        value: count,
      }),
    );
    return fc
      .record({
        steps: fc.array(fc.tuple(atArb, actionArb), { maxLength: 12 }),
        assertions: fc.array(assertionArb, { maxLength: 8 }),
      })
      .map(({ steps, assertions }): Scenario => {
        // Keep only what validates: rotations within spare keys, request series inside the run.
        const rotations = new Map<string, number>();
        const timeline: TimelineStep[] = [];
        for (const [at, action] of steps) {
          if (action.kind === 'rotateKey') {
            const done = (rotations.get(action.operator) ?? 0) + 1;
            const spare = b.operators.find((o) => o.name === action.operator)?.spareKeys ?? 0;
            if (done > spare) continue;
            rotations.set(action.operator, done);
          }
          if (
            action.kind === 'request' &&
            at.kind === 'time' &&
            action.count > 1 &&
            at.atMs + (action.count - 1) * action.everyMs >= b.durationMs
          ) {
            continue;
          }
          timeline.push({ at, line: 0, action });
        }
        return {
          name: b.name,
          description: b.description,
          defaultSeed: b.defaultSeed,
          durationMs: b.durationMs,
          chain: {
            epochLengthBlocks: b.epochLengthBlocks,
            gracePeriodBlocks: Math.floor(b.graceFraction * b.epochLengthBlocks),
            blockTimeMs: b.blockTimeMs,
            confirmations: b.confirmations,
            stateChainIds,
            mainChainId: b.mainChainId,
          },
          network: b.network,
          aggregator: b.aggregator,
          operators: b.operators,
          users: b.users,
          timeline,
          assertions,
        };
      });
  });

function withoutLines(scenario: Scenario): Scenario {
  return {
    ...scenario,
    timeline: scenario.timeline.map((step) => ({ ...step, line: 0 })),
    assertions: scenario.assertions.map((assertion) => ({ ...assertion, line: 0 })),
  };
}

describe('round trip', () => {
  it('formatScenario → parseScenario gives back any valid scenario', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const text = formatScenario(scenario);
        expect(withoutLines(parseScenario(text, 'generated.yaml'))).toEqual(scenario);
      }),
      { numRuns: 200 },
    );
  });

  it('formats every shipped scenario so that it parses back equal', () => {
    for (const file of scenarioFiles()) {
      const scenario = loadScenario(join(SCENARIOS, file));
      expect(withoutLines(parseScenario(formatScenario(scenario), file))).toEqual(
        withoutLines(scenario),
      );
    }
  });
});

// ------------------------------------------------------------------------------------------
// The scenarios shipped in scenarios/.

function scenarioFiles(): string[] {
  return readdirSync(SCENARIOS)
    .filter((file) => file.endsWith('.yaml'))
    .sort();
}

describe('several registries', () => {
  const three = (extra: string) => base(`registries: [regA, regB, regC]\nusers: [alice]\n${extra}`);

  it('parses registries, via, corruptChainView and the registry assertions', () => {
    const scenario = parseScenario(
      three(
        [
          'timeline:',
          '  - at: 10s',
          '    request: { key: 1, via: regB }',
          '  - at: 20s',
          '    crash: regA',
          '  - at: 30s',
          '    partition: [[regA, op00], [regB]]',
          '  - at: epoch 2',
          '    corruptChainView: { registry: regC, weightFactor: 3, duration: 1m }',
          'assertions:',
          '  - registries: { stateHash: agree }',
          '  - registries: { counters: agree }',
          '  - registry: regC',
          '    divergencesDetected: ">= 1"',
          '    divergencesRepaired: 2',
          '  - operator: op01',
          '    status: active',
          '    via: regC',
          '',
        ].join('\n'),
      ),
      's.yaml',
    );
    expect(scenario.registries).toEqual(['regA', 'regB', 'regC']);
    expect(scenario.timeline.map((step) => step.action)).toEqual([
      expect.objectContaining({ kind: 'request', via: 'regB' }),
      { kind: 'crash', node: 'regA' },
      { kind: 'partition', groups: [['regA', 'op00'], ['regB']] },
      { kind: 'corruptChainView', registry: 'regC', weightFactor: 3n, durationMs: 60_000 },
    ]);
    expect(scenario.assertions.map(({ line: _line, ...rest }) => rest)).toEqual([
      { timing: { kind: 'final' }, kind: 'registryStateHashAgree' },
      { timing: { kind: 'final' }, kind: 'registryCountersAgree' },
      {
        timing: { kind: 'final' },
        kind: 'registryCounter',
        registry: 'regC',
        counter: 'divergencesDetected',
        comparison: '>=',
        value: 1,
      },
      {
        timing: { kind: 'final' },
        kind: 'registryCounter',
        registry: 'regC',
        counter: 'divergencesRepaired',
        comparison: '==',
        value: 2,
      },
      {
        timing: { kind: 'final' },
        kind: 'operatorStatus',
        operator: 'op01',
        status: 'active',
        via: 'regC',
      },
    ]);
    expect(parseScenario(formatScenario(scenario), 's.yaml')).toEqual(
      expect.objectContaining({
        registries: scenario.registries,
        timeline: scenario.timeline.map((step) => expect.objectContaining({ action: step.action })),
      }),
    );
  });

  it('parses an operator configured with some registries only, and formats it back', () => {
    const scenario = parseScenario(
      'name: t\nduration: 5m\nregistries: [regA, regB]\noperators:\n  - count: 2\n  - name: solo\n    registries: [regA]\n',
      's.yaml',
    );
    expect(scenario.operators.map((operator) => [operator.name, operator.registries])).toEqual([
      ['op00', undefined],
      ['op01', undefined],
      ['solo', ['regA']],
    ]);
    expect(parseScenario(formatScenario(scenario), 's.yaml').operators).toEqual(scenario.operators);
  });

  it('leaves registries out when the file does (one registry named "registry")', () => {
    expect(parseScenario(base(''), 's.yaml').registries).toBeUndefined();
  });

  it.each([
    [
      'unknown via',
      three('timeline:\n  - at: 10s\n    request: { key: 1, via: regD }\n'),
      's.yaml:9: timeline[0].request.via: unknown registry "regD" (did you mean "regA"?) (registries: regA, regB, regC)',
    ],
    [
      'the default registry name when registries are listed',
      three('timeline:\n  - at: 10s\n    crash: registry\n'),
      's.yaml:9: timeline[0].crash: unknown node "registry" (nodes: regA, regB, regC, op00, op01, op02, op03)',
    ],
    [
      'duplicate registry',
      base('registries: [regA, regA]\n'),
      's.yaml:5: registries[1]: duplicate registry "regA"',
    ],
    [
      'empty registries',
      base('registries: []\n'),
      's.yaml:5: registries: needs 1 to 8 registries, got 0 (or leave it out for one named "registry")',
    ],
    [
      'operator named like a registry',
      'name: t\nduration: 5m\nregistries: [op00, regB]\noperators:\n  - count: 4\n',
      's.yaml:5: operators[0].count: "op00" is a registry node\'s name; pick another',
    ],
    [
      'an operator configured with an unknown registry',
      'name: t\nduration: 5m\nregistries: [regA, regB]\noperators:\n  - name: solo\n    registries: [regA, regX]\n',
      's.yaml:6: operators[0].registries[1]: unknown registry "regX" (did you mean "regA"?) (registries: regA, regB)',
    ],
    [
      'an operator configured with a registry twice',
      'name: t\nduration: 5m\nregistries: [regA, regB]\noperators:\n  - name: solo\n    registries: [regB, regB]\n',
      's.yaml:6: operators[0].registries[1]: duplicate registry "regB"',
    ],
    [
      'an operator configured with no registry',
      'name: t\nduration: 5m\nregistries: [regA, regB]\noperators:\n  - name: solo\n    registries: []\n',
      's.yaml:6: operators[0].registries: needs at least one registry (or leave it out for all of them)',
    ],
    [
      'a registry where an operator is needed',
      three('timeline:\n  - at: 10s\n    deregister: regB\n'),
      's.yaml:9: timeline[0].deregister: this action needs an operator; "regB" is a registry node',
    ],
    [
      'weight factor 1',
      three(
        'timeline:\n  - at: 10s\n    corruptChainView: { registry: regC, weightFactor: 1, duration: 1m }\n',
      ),
      's.yaml:9: timeline[0].corruptChainView.weightFactor: a factor of 1 changes nothing',
    ],
    [
      'unknown stateHash check',
      three('assertions:\n  - registries: { stateHash: differ }\n'),
      's.yaml:8: assertions[0].registries.stateHash: unknown check "differ"; expected one of agree',
    ],
    [
      'unknown counters check',
      three('assertions:\n  - registries: { counters: equal }\n'),
      's.yaml:8: assertions[0].registries.counters: unknown check "equal"; expected one of agree',
    ],
    [
      'registries assertion without a check',
      three('assertions:\n  - registries: {}\n'),
      's.yaml:8: assertions[0].registries: needs stateHash: agree or counters: agree',
    ],
    [
      'registry assertion without a counter',
      three('assertions:\n  - registry: regA\n'),
      's.yaml:8: assertions[0]: a registry assertion needs divergencesDetected or divergencesRepaired',
    ],
    [
      'a registry counter on an operator item',
      three('assertions:\n  - operator: op00\n    divergencesRepaired: 1\n'),
      's.yaml:9: assertions[0].divergencesRepaired: belongs to a registry assertion (registry: <name>), not an operator assertion',
    ],
    [
      'via on a tasks item',
      three('assertions:\n  - tasks: { completed: 1 }\n    via: regA\n'),
      's.yaml:9: assertions[0].via: belongs to an operator assertion, not a tasks assertion',
    ],
  ] as const)('%s', (_label, text, message) => {
    expect(errorOf(text).message).toBe(message);
  });
});

describe('scenarios/*.yaml', () => {
  it('ships the expected scenarios', () => {
    expect(scenarioFiles()).toEqual(
      expect.arrayContaining([
        'byzantine-minority.yaml',
        'deregistration.yaml',
        'epoch-rollover.yaml',
        'key-rotation.yaml',
        'large-100.yaml',
        'partition-heal.yaml',
        'reorg.yaml',
        'retries.yaml',
        'rpc-faults.yaml',
        'suspension-after-5-misses.yaml',
      ]),
    );
  });

  it.each(scenarioFiles())('%s parses, is named after its file and says what it shows', (file) => {
    const path = join(SCENARIOS, file);
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith('# ')).toBe(true);
    const scenario = loadScenario(path);
    expect(scenario.name).toBe(file.replace(/\.yaml$/, ''));
    expect(scenario.description).not.toBe('');
    expect(scenario.assertions.length).toBeGreaterThan(0);
    expect(scenario.timeline.some((step) => step.action.kind === 'request')).toBe(true);
  });

  it('epoch-rollover is the 24-operator demo with a latecomer and a weight change', () => {
    const scenario = loadScenario(join(SCENARIOS, 'epoch-rollover.yaml'));
    expect(scenario.operators).toHaveLength(24);
    const kinds = scenario.timeline.map((step) => step.action.kind);
    expect(kinds).toEqual(expect.arrayContaining(['register', 'setWeight', 'setValue', 'request']));
  });

  it('large-100 has 100 operators', () => {
    expect(loadScenario(join(SCENARIOS, 'large-100.yaml')).operators).toHaveLength(100);
  });

  it('retries has the weights its comment works through', () => {
    const scenario = loadScenario(join(SCENARIOS, 'retries.yaml'));
    const weight = (name: string) => scenario.operators.find((o) => o.name === name)?.weight ?? 0n;
    const total = scenario.operators.reduce((sum, o) => sum + o.weight, 0n);
    const threshold = (2n * total + 2n) / 3n;
    expect([total, threshold]).toEqual([1500n, 1000n]);
    expect(scenario.aggregator.selection).toBe('heaviestFirst');
    // Round 0 picks big + midA + midB; without big the rest reaches exactly the threshold,
    // and without big and midA it cannot.
    expect(weight('big') + weight('midA') + weight('midB')).toBeGreaterThanOrEqual(threshold);
    expect(total - weight('big')).toBe(threshold);
    expect(total - weight('big') - weight('midA')).toBeLessThan(threshold);
  });
});
