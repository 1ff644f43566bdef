import { readFileSync } from 'node:fs';
import { OPERATOR_STATUSES, type OperatorStatus } from '../../src/core/operator-status.ts';
import {
  MAX_FLOOD_COUNT,
  MAX_SLOW_DELAY_MS,
  type OperatorBehaviourSpec,
} from '../../src/operator/behaviour.ts';
import { HOSTILE_ATTACKS, MAX_HOSTILE_COUNT } from '../harness/hostile-peer.ts';
import {
  type Action,
  type AggregatorSetup,
  type Assertion,
  type AssertionTiming,
  type ChainSetup,
  type Comparison,
  DEFAULT_REGISTRY_NAME,
  type NetworkConditionsSetup,
  type OperatorSetup,
  type QueryPoint,
  REGISTRY_COUNTERS,
  type Scenario,
  ScenarioError,
  type StepTime,
  type TimelineStep,
} from './scenario.ts';
import {
  closest,
  DURATION_HINT,
  didYouMean,
  durationFromText,
  formatDuration,
  MAX_UINT64,
  type Parsed,
  splitComparison,
  UINT_HINT,
  uint256FromBigint,
  uint256FromText,
} from './values.ts';
import { parseYamlTree, type YMap, type YNode } from './yaml-tree.ts';

/**
 * Scenario files (YAML) → validated `Scenario` objects. The surface is documented in
 * `sim/scenario/README.md`. Every problem is a `ScenarioError` naming the file, the 1-based
 * line, the field path (e.g. `timeline[3].request.every`) and what is wrong.
 */

/** Every default a scenario file may leave out (documented in README.md). */
export const SCENARIO_DEFAULTS = {
  description: '',
  seed: 1,
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
  operator: {
    weight: 100n,
    behaviour: { kind: 'honest' },
    registeredAtStart: true,
    spareKeys: 0,
    /** Generated names: `op00`, `op01`, … */
    prefix: 'op',
  },
  users: ['alice'],
  request: { count: 1, point: { kind: 'latestBlock' } },
} as const;

/** Node name of the registry (in crash/restart/partition/clockSkew). */
export const REGISTRY_NODE = DEFAULT_REGISTRY_NAME;

/** Bounds that keep a scenario a simulation rather than a typo. */
export const LIMITS = {
  maxOperatorsPerGroup: 1000,
  maxRequestCount: 100_000,
  maxRetries: 100,
  maxChainId: 2 ** 32 - 1,
  maxEpoch: 2 ** 32 - 1,
  minBlockTimeMs: 1000,
} as const;

/** Reads and parses a scenario file; the path as given names the file in errors. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ScenarioError(path, '', undefined, `cannot read the file: ${reason}`);
  }
  return parseScenario(text, path);
}

/** Parses and validates scenario YAML. `file` names the source in errors. */
export function parseScenario(text: string, file: string): Scenario {
  const tree = parseYamlTree(text, file);
  try {
    return buildScenario(tree);
  } catch (error) {
    if (error instanceof Invalid)
      throw new ScenarioError(file, error.path, error.line, error.problem);
    throw error;
  }
}

// ------------------------------------------------------------------------------------------
// Errors and small helpers

class Invalid extends Error {
  readonly path: string;
  readonly line: number;
  readonly problem: string;
  constructor(path: string, line: number, problem: string) {
    super(problem);
    this.path = path;
    this.line = line;
    this.problem = problem;
  }
}

function fail(path: string, line: number, problem: string): never {
  throw new Invalid(path, line, problem);
}

const child = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const item = (path: string, index: number) => `${path}[${index}]`;

function describe(node: YNode): string {
  if (node.kind === 'map') return 'a map';
  if (node.kind === 'seq') return 'a list';
  const { value } = node;
  if (value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return `the number ${node.source}`;
  return node.source;
}

function wrongType(node: YNode, path: string, expected: string): never {
  return fail(path, node.line, `expected ${expected}, got ${describe(node)}`);
}

function check<T>(parsed: Parsed<T>, path: string, line: number): T {
  if (!parsed.ok) fail(path, line, parsed.problem);
  return parsed.value;
}

/** A short list of names for messages: all of them when few, else the ends. */
function summarise(names: readonly string[]): string {
  if (names.length <= 8) return names.join(', ');
  return `${names.slice(0, 3).join(', ')}, …, ${names.slice(-2).join(', ')} (${names.length} in all)`;
}

type Parser<T> = (node: YNode, path: string) => T;

// ------------------------------------------------------------------------------------------
// Maps

interface Fields {
  readonly path: string;
  /** Where the map is introduced (its key's line, or its list item's line). */
  readonly line: number;
  readonly map: YMap;
  get(key: string): YNode | undefined;
  keyLine(key: string): number;
}

function fieldsOf(
  node: YNode,
  path: string,
  allowed: readonly string[],
  expected: string,
  unknownKey?: (key: string) => string,
): Fields {
  if (node.kind !== 'map') wrongType(node, path, expected);
  for (const entry of node.entries) {
    if (allowed.includes(entry.key)) continue;
    if (unknownKey !== undefined)
      fail(child(path, entry.key), entry.keyLine, unknownKey(entry.key));
    const suggestion = closest(entry.key, allowed);
    fail(
      child(path, entry.key),
      entry.keyLine,
      suggestion === undefined
        ? `unknown key; expected one of ${allowed.join(', ')}`
        : `unknown key (did you mean "${suggestion}"?)`,
    );
  }
  const byKey = new Map(node.entries.map((entry) => [entry.key, entry]));
  return {
    path,
    line: node.line,
    map: node,
    get: (key) => byKey.get(key)?.value,
    keyLine: (key) => byKey.get(key)?.keyLine ?? node.line,
  };
}

function optional<T>(fields: Fields, key: string, parse: Parser<T>): T | undefined {
  const node = fields.get(key);
  return node === undefined ? undefined : parse(node, child(fields.path, key));
}

function required<T>(fields: Fields, key: string, parse: Parser<T>, hint = ''): T {
  const node = fields.get(key);
  if (node === undefined) {
    fail(
      child(fields.path, key),
      fields.line,
      `is required but missing${hint ? ` (${hint})` : ''}`,
    );
  }
  return parse(node, child(fields.path, key));
}

// ------------------------------------------------------------------------------------------
// Scalars

function text(expected = 'a string'): Parser<string> {
  return (node, path) => {
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value.trim() === '') {
      wrongType(node, path, expected);
    }
    return node.value;
  };
}

/** A string, possibly empty. */
function anyText(expected: string): Parser<string> {
  return (node, path) => {
    if (node.kind !== 'scalar' || typeof node.value !== 'string') wrongType(node, path, expected);
    return node.value;
  };
}

const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

function name(what: string): Parser<string> {
  const asText = text(`${what} name`);
  return (node, path) => {
    const value = asText(node, path);
    if (!NAME.test(value)) {
      fail(
        path,
        node.line,
        `${what} names are letters and digits, starting with a letter; got ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): Parser<number> {
  return (node, path) => {
    if (node.kind !== 'scalar' || typeof node.value !== 'bigint') {
      wrongType(node, path, 'a whole number');
    }
    const value = node.value;
    const suffix = unit === '' ? '' : ` ${unit}`;
    if (value < BigInt(min))
      fail(path, node.line, `must be at least ${min}${suffix}, got ${value}`);
    if (value > BigInt(max)) fail(path, node.line, `must be at most ${max}${suffix}, got ${value}`);
    return Number(value);
  };
}

const uint256: Parser<bigint> = (node, path) => {
  if (node.kind === 'scalar') {
    const { value } = node;
    if (typeof value === 'bigint') return check(uint256FromBigint(value), path, node.line);
    if (typeof value === 'string') return check(uint256FromText(value), path, node.line);
    if (typeof value === 'number') {
      fail(
        path,
        node.line,
        `expected ${UINT_HINT}, got the float ${node.source} (floats are inexact: write the integer, or quote it)`,
      );
    }
  }
  return wrongType(node, path, UINT_HINT);
};

function duration(
  options: { min?: number; max?: number; allowNegative?: boolean; minReason?: string } = {},
): Parser<number> {
  return (node, path) => {
    let ms: number;
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      ms = check(
        durationFromText(node.value, { allowNegative: options.allowNegative === true }),
        path,
        node.line,
      );
    } else if (node.kind === 'scalar' && (node.value === 0n || node.value === 0)) {
      ms = 0;
    } else if (
      node.kind === 'scalar' &&
      (typeof node.value === 'bigint' || typeof node.value === 'number')
    ) {
      return fail(
        path,
        node.line,
        `a duration needs a unit (ms, s, m or h), e.g. "${node.source}ms" or "${node.source}s"; got ${node.source}`,
      );
    } else {
      return wrongType(node, path, DURATION_HINT);
    }
    if (options.min !== undefined && ms < options.min) {
      const reason = options.minReason === undefined ? '' : ` (${options.minReason})`;
      fail(
        path,
        node.line,
        `must be at least ${formatDuration(options.min)}${reason}, got ${node.source}`,
      );
    }
    if (options.max !== undefined && ms > options.max) {
      fail(path, node.line, `must be at most ${formatDuration(options.max)}, got ${node.source}`);
    }
    return ms;
  };
}

/** A probability: a number in [0, 1] or a percentage string such as "5%". */
const probability: Parser<number> = (node, path) => {
  if (node.kind === 'scalar') {
    const { value } = node;
    let p: number | undefined;
    if (typeof value === 'number') p = value;
    else if (typeof value === 'bigint' && (value === 0n || value === 1n)) p = Number(value);
    else if (typeof value === 'bigint') p = Number.NaN;
    else if (typeof value === 'string') {
      const percent = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value)?.[1];
      p = percent === undefined ? undefined : Number(percent) / 100;
    }
    if (p !== undefined) {
      if (!(p >= 0 && p <= 1)) {
        fail(path, node.line, `must be between 0 and 1 (or 0% and 100%), got ${node.source}`);
      }
      return p;
    }
  }
  return wrongType(node, path, 'a probability between 0 and 1, or a percentage such as "5%"');
};

const bool: Parser<boolean> = (node, path) => {
  if (node.kind !== 'scalar' || typeof node.value !== 'boolean') {
    wrongType(node, path, 'true or false');
  }
  return node.value;
};

function oneOf<T extends string>(options: readonly T[], what: string): Parser<T> {
  return (node, path) => {
    if (node.kind !== 'scalar' || typeof node.value !== 'string') {
      wrongType(node, path, `${what}: one of ${options.join(', ')}`);
    }
    const value = node.value;
    const found = options.find((option) => option === value);
    if (found === undefined) {
      fail(
        path,
        node.line,
        `unknown ${what} ${JSON.stringify(value)}${didYouMean(value, options)}; expected one of ${options.join(', ')}`,
      );
    }
    return found;
  };
}

function list<T>(parse: Parser<T>, expected: string): Parser<T[]> {
  return (node, path) => {
    if (node.kind !== 'seq') wrongType(node, path, expected);
    return node.items.map((entry, index) => parse(entry, item(path, index)));
  };
}

/** `at: 90s` or `at: epoch 3` (also used by `within`). */
const stepTime: Parser<StepTime> = (node, path) => {
  if (node.kind === 'scalar' && typeof node.value === 'string') {
    const epochMatch = /^\s*epoch\b\s*(.*?)\s*$/.exec(node.value);
    if (epochMatch !== null) {
      const n = epochMatch[1] ?? '';
      if (!/^\d+$/.test(n)) {
        fail(
          path,
          node.line,
          `in "epoch N", N must be a whole number, got ${JSON.stringify(node.value)}`,
        );
      }
      const epoch = Number(n);
      if (epoch > LIMITS.maxEpoch) fail(path, node.line, `epoch ${n} is beyond uint32`);
      return { kind: 'epoch', epoch };
    }
    return { kind: 'time', atMs: duration()(node, path) };
  }
  if (node.kind === 'scalar' && (node.value === 0n || node.value === 0)) {
    return { kind: 'time', atMs: 0 };
  }
  if (node.kind === 'scalar' && typeof node.value === 'bigint') {
    return fail(
      path,
      node.line,
      `expected a time such as 90s or "epoch 3", got ${node.source} (a time needs a unit; an epoch is written "epoch ${node.source}")`,
    );
  }
  return wrongType(node, path, 'a time such as 90s or "epoch 3"');
};

// ------------------------------------------------------------------------------------------
// Comparisons

/** `">= 20"`, `"== 0"`, or a bare whole number meaning `==`. */
const countComparison: Parser<{ comparison: Comparison; value: number }> = (node, path) => {
  if (node.kind === 'scalar' && typeof node.value === 'bigint') {
    return { comparison: '==', value: integer(0)(node, path) };
  }
  if (node.kind !== 'scalar' || typeof node.value !== 'string') {
    return wrongType(node, path, 'a comparison such as ">= 5" or a whole number');
  }
  const { comparison, operand } = check(splitComparison(node.value), path, node.line);
  if (!/^\d+$/.test(operand) || !Number.isSafeInteger(Number(operand))) {
    fail(
      path,
      node.line,
      `malformed comparison ${JSON.stringify(node.value)}: ${JSON.stringify(operand)} is not a whole number`,
    );
  }
  return { comparison, value: Number(operand) };
};

/** `"<= 5s"`: a comparison with a duration. */
const durationComparison: Parser<{ comparison: Comparison; valueMs: number }> = (node, path) => {
  if (node.kind !== 'scalar' || typeof node.value !== 'string') {
    return wrongType(node, path, 'a comparison with a duration, such as "<= 5s"');
  }
  const split = splitComparison(node.value);
  if (!split.ok) {
    const bare = durationFromText(node.value);
    if (bare.ok) {
      fail(
        path,
        node.line,
        `needs a comparison: write "<= ${node.value.trim()}" (or >=, ==, >, <)`,
      );
    }
    fail(
      path,
      node.line,
      split.problem.replace('and a value, e.g. ">= 5"', 'and a duration, e.g. "<= 5s"'),
    );
  }
  const { comparison, operand } = split.value;
  const ms = durationFromText(operand);
  if (!ms.ok) {
    fail(path, node.line, `malformed comparison ${JSON.stringify(node.value)}: ${ms.problem}`);
  }
  return { comparison, valueMs: ms.value };
};

// ------------------------------------------------------------------------------------------
// The scenario

const TOP_KEYS = [
  'name',
  'description',
  'seed',
  'duration',
  'chain',
  'network',
  'aggregator',
  'operators',
  'users',
  'registries',
  'timeline',
  'assertions',
];

function buildScenario(root: YNode): Scenario {
  const top = fieldsOf(root, '', TOP_KEYS, 'a map with at least name, duration and operators');
  const scenarioName = required(top, 'name', text('a scenario name'));
  const description = (optional(top, 'description', anyText('a description')) ?? '').trim();
  const defaultSeed = optional(top, 'seed', integer(0)) ?? SCENARIO_DEFAULTS.seed;
  const durationMs = required(
    top,
    'duration',
    duration({ min: 1 }),
    'how long the run lasts in virtual time, e.g. 5m',
  );
  const chain = parseChain(top);
  const network = parseNetwork(top);
  const aggregator = parseAggregator(top);
  const registries = parseRegistries(top);
  const operators = parseOperators(top, registries);
  const users = parseUsers(top);
  const refs: Refs = {
    registries,
    operators: new Map(operators.map((operator) => [operator.name, operator])),
    operatorNames: operators.map((operator) => operator.name),
    users,
    chain,
    durationMs,
    rotations: new Map(),
  };
  const timeline = parseTimeline(top, refs);
  const assertions = parseAssertions(top, refs);
  return {
    name: scenarioName,
    description,
    defaultSeed,
    durationMs,
    chain,
    network,
    aggregator,
    operators,
    users,
    ...(top.get('registries') === undefined ? {} : { registries }),
    timeline,
    assertions,
  };
}

// --- chain, network, aggregator ------------------------------------------------------------

const chainIdValue = integer(1, LIMITS.maxChainId);

function parseChain(top: Fields): ChainSetup {
  const d = SCENARIO_DEFAULTS.chain;
  const node = top.get('chain');
  if (node === undefined) return { ...d, stateChainIds: [...d.stateChainIds] };
  const f = fieldsOf(
    node,
    'chain',
    ['epochLength', 'gracePeriod', 'blockTime', 'confirmations', 'stateChains', 'mainChainId'],
    'a map of chain settings',
  );
  const epochLengthBlocks =
    optional(f, 'epochLength', integer(1, 2 ** 32, 'blocks')) ?? d.epochLengthBlocks;
  const gracePeriodBlocks =
    optional(f, 'gracePeriod', integer(0, 2 ** 32, 'blocks')) ?? d.gracePeriodBlocks;
  const blockTimeMs =
    optional(
      f,
      'blockTime',
      duration({ min: LIMITS.minBlockTimeMs, minReason: 'block timestamps are whole seconds' }),
    ) ?? d.blockTimeMs;
  const confirmations = optional(f, 'confirmations', integer(0, 1000, 'blocks')) ?? d.confirmations;
  const mainChainId = optional(f, 'mainChainId', chainIdValue) ?? d.mainChainId;
  const stateChainIds =
    optional(f, 'stateChains', (listNode, path) => {
      const ids = list(chainIdValue, 'a list of chain ids, e.g. [10]')(listNode, path);
      const lines = listNode.kind === 'seq' ? listNode.items.map((entry) => entry.line) : [];
      ids.forEach((id, index) => {
        const line = lines[index] ?? listNode.line;
        if (id === mainChainId) {
          fail(
            item(path, index),
            line,
            `${id} is the main chain, which always has a StateManager; list only the other chains`,
          );
        }
        if (ids.indexOf(id) !== index) fail(item(path, index), line, `chain ${id} is listed twice`);
      });
      return ids;
    }) ?? [...d.stateChainIds].filter((id) => id !== mainChainId);
  if (gracePeriodBlocks >= epochLengthBlocks) {
    if (f.get('gracePeriod') !== undefined) {
      fail(
        'chain.gracePeriod',
        f.keyLine('gracePeriod'),
        `must be less than epochLength (${epochLengthBlocks}), got ${gracePeriodBlocks}`,
      );
    }
    fail(
      'chain.epochLength',
      f.keyLine('epochLength'),
      `must be greater than gracePeriod (${gracePeriodBlocks} by default), got ${epochLengthBlocks}`,
    );
  }
  return {
    epochLengthBlocks,
    gracePeriodBlocks,
    blockTimeMs,
    confirmations,
    stateChainIds,
    mainChainId,
  };
}

const NETWORK_KEYS = ['latency', 'jitter', 'loss', 'duplication'];

function parseNetworkFields(f: Fields): Partial<NetworkConditionsSetup> {
  const out: Partial<NetworkConditionsSetup> = {};
  const latencyMs = optional(f, 'latency', duration());
  const jitterMs = optional(f, 'jitter', duration());
  const lossRate = optional(f, 'loss', probability);
  const duplicateRate = optional(f, 'duplication', probability);
  if (latencyMs !== undefined) out.latencyMs = latencyMs;
  if (jitterMs !== undefined) out.jitterMs = jitterMs;
  if (lossRate !== undefined) out.lossRate = lossRate;
  if (duplicateRate !== undefined) out.duplicateRate = duplicateRate;
  return out;
}

function parseNetwork(top: Fields): NetworkConditionsSetup {
  const node = top.get('network');
  const given =
    node === undefined
      ? {}
      : parseNetworkFields(fieldsOf(node, 'network', NETWORK_KEYS, 'a map of network conditions'));
  return { ...SCENARIO_DEFAULTS.network, ...given };
}

const SELECTIONS: readonly AggregatorSetup['selection'][] = ['allActive', 'heaviestFirst'];

function parseAggregator(top: Fields): AggregatorSetup {
  const d = SCENARIO_DEFAULTS.aggregator;
  const node = top.get('aggregator');
  if (node === undefined) return { ...d };
  const f = fieldsOf(
    node,
    'aggregator',
    ['responseDeadline', 'expiry', 'maxRetries', 'selection'],
    'a map of aggregator settings',
  );
  return {
    responseDeadlineMs:
      optional(f, 'responseDeadline', duration({ min: 1 })) ?? d.responseDeadlineMs,
    expiryMs: optional(f, 'expiry', duration({ min: 1 })) ?? d.expiryMs,
    maxRetries: optional(f, 'maxRetries', integer(0, LIMITS.maxRetries)) ?? d.maxRetries,
    selection: optional(f, 'selection', oneOf(SELECTIONS, 'selection')) ?? d.selection,
  };
}

// --- operators and users -------------------------------------------------------------------

const SIMPLE_BEHAVIOURS = ['honest', 'silent', 'wrongValue', 'badSignature', 'equivocate'] as const;
const BEHAVIOUR_NAMES = [...SIMPLE_BEHAVIOURS, 'slow', 'flood'];
const BEHAVIOUR_HINT =
  'honest, silent, wrongValue, badSignature, equivocate, { slow: <duration> } or { flood: <count> }';

const behaviour: Parser<OperatorBehaviourSpec> = (node, path) => {
  if (node.kind === 'scalar' && typeof node.value === 'string') {
    const value = node.value;
    const simple = SIMPLE_BEHAVIOURS.find((kind) => kind === value);
    if (simple !== undefined) return { kind: simple };
    if (value === 'slow') fail(path, node.line, 'slow needs a delay: write { slow: 5s }');
    if (value === 'flood') fail(path, node.line, 'flood needs a count: write { flood: 10 }');
    fail(
      path,
      node.line,
      `unknown behaviour ${JSON.stringify(value)}${didYouMean(value, BEHAVIOUR_NAMES)}; expected ${BEHAVIOUR_HINT}`,
    );
  }
  if (node.kind === 'map') {
    const [entry, extra] = node.entries;
    if (entry === undefined || extra !== undefined) {
      fail(
        path,
        node.line,
        `a behaviour map has exactly one key, slow or flood; got ${node.entries.length}`,
      );
    }
    const keyPath = child(path, entry.key);
    if (entry.key === 'slow') {
      return { kind: 'slow', delayMs: duration({ max: MAX_SLOW_DELAY_MS })(entry.value, keyPath) };
    }
    if (entry.key === 'flood') {
      return {
        kind: 'flood',
        count: integer(1, MAX_FLOOD_COUNT, 'messages')(entry.value, keyPath),
      };
    }
    const simple = SIMPLE_BEHAVIOURS.find((kind) => kind === entry.key);
    if (simple !== undefined) {
      fail(keyPath, entry.keyLine, `${simple} takes no parameter: write behaviour: ${simple}`);
    }
    fail(
      keyPath,
      entry.keyLine,
      `unknown behaviour ${JSON.stringify(entry.key)}${didYouMean(entry.key, BEHAVIOUR_NAMES)}; expected ${BEHAVIOUR_HINT}`,
    );
  }
  return wrongType(node, path, `a behaviour: ${BEHAVIOUR_HINT}`);
};

const OPERATOR_KEYS = [
  'name',
  'count',
  'prefix',
  'weight',
  'behaviour',
  'registered',
  'spareKeys',
  'registries',
];

interface OperatorItem {
  path: string;
  line: number;
  /** Set for a named operator. */
  name?: { value: string; path: string; line: number };
  /** Set for a group. */
  group?: { count: number; prefix: string; path: string; line: number };
  weight: bigint;
  behaviour: OperatorBehaviourSpec;
  registeredAtStart: boolean;
  spareKeys: number;
  /** The registries the operator is configured with (default: all). */
  registries?: string[];
}

/** Most registry nodes a scenario may run. */
const MAX_REGISTRIES = 8;

function parseRegistries(top: Fields): string[] {
  const node = top.get('registries');
  if (node === undefined) return [REGISTRY_NODE];
  const registries = list(
    name('registry'),
    'a list of registry node names, e.g. [regA, regB, regC]',
  )(node, 'registries');
  if (registries.length === 0 || registries.length > MAX_REGISTRIES) {
    fail(
      'registries',
      node.line,
      `needs 1 to ${MAX_REGISTRIES} registries, got ${registries.length} (or leave it out for one named "registry")`,
    );
  }
  registries.forEach((registry, index) => {
    if (registries.indexOf(registry) !== index) {
      const line = node.kind === 'seq' ? (node.items[index]?.line ?? node.line) : node.line;
      fail(item('registries', index), line, `duplicate registry "${registry}"`);
    }
  });
  return registries;
}

function parseOperators(
  top: Fields,
  registries: readonly string[] = [REGISTRY_NODE],
): OperatorSetup[] {
  const d = SCENARIO_DEFAULTS.operator;
  const node = top.get('operators');
  if (node === undefined) {
    fail('operators', top.line, 'is required but missing (e.g. operators: [{ count: 4 }])');
  }
  const path = 'operators';
  // `operators: 4` is short for `operators: [{ count: 4 }]`.
  const items: YNode[] =
    node.kind === 'scalar' && typeof node.value === 'bigint'
      ? [
          {
            kind: 'map',
            line: node.line,
            entries: [{ key: 'count', keyLine: node.line, value: node }],
          },
        ]
      : node.kind === 'seq'
        ? [...node.items]
        : wrongType(node, path, 'a list of operators (or a number of operators)');
  if (items.length === 0) fail(path, node.line, 'needs at least one operator');

  const parsed: OperatorItem[] = items.map((entry, index) => {
    const itemPath = item(path, index);
    if (entry.kind === 'scalar' && typeof entry.value === 'string') {
      return {
        path: itemPath,
        line: entry.line,
        name: { value: name('operator')(entry, itemPath), path: itemPath, line: entry.line },
        weight: d.weight,
        behaviour: d.behaviour,
        registeredAtStart: d.registeredAtStart,
        spareKeys: d.spareKeys,
      };
    }
    const f = fieldsOf(
      entry,
      itemPath,
      OPERATOR_KEYS,
      'an operator: a name, or a map with name (or count) and settings',
    );
    const hasName = f.get('name') !== undefined;
    const hasCount = f.get('count') !== undefined;
    if (hasName && hasCount) {
      fail(
        child(itemPath, 'count'),
        f.keyLine('count'),
        'an item is either one operator (name) or a group of operators (count), not both',
      );
    }
    if (!hasName && !hasCount) {
      fail(itemPath, f.line, 'an operator item needs a name (or a count, to generate a group)');
    }
    if (hasName && f.get('prefix') !== undefined) {
      fail(
        child(itemPath, 'prefix'),
        f.keyLine('prefix'),
        'prefix applies only to a group (count)',
      );
    }
    const result: OperatorItem = {
      path: itemPath,
      line: f.line,
      weight: optional(f, 'weight', uint256) ?? d.weight,
      behaviour: optional(f, 'behaviour', behaviour) ?? d.behaviour,
      registeredAtStart: optional(f, 'registered', bool) ?? d.registeredAtStart,
      spareKeys: optional(f, 'spareKeys', integer(0, 100)) ?? d.spareKeys,
    };
    const configured = optional(f, 'registries', operatorRegistries(registries));
    if (configured !== undefined) result.registries = configured;
    if (hasName) {
      result.name = {
        value: required(f, 'name', name('operator')),
        path: child(itemPath, 'name'),
        line: f.keyLine('name'),
      };
    } else {
      const hasPrefix = f.get('prefix') !== undefined;
      result.group = {
        count: required(f, 'count', integer(1, LIMITS.maxOperatorsPerGroup, 'operators')),
        prefix: optional(f, 'prefix', name('prefix')) ?? d.prefix,
        path: child(itemPath, hasPrefix ? 'prefix' : 'count'),
        line: f.keyLine(hasPrefix ? 'prefix' : 'count'),
      };
    }
    return result;
  });

  // Generated names number on across groups with the same prefix, zero-padded to one width.
  const totals = new Map<string, number>();
  for (const entry of parsed) {
    if (entry.group)
      totals.set(entry.group.prefix, (totals.get(entry.group.prefix) ?? 0) + entry.group.count);
  }
  const next = new Map<string, number>();
  const declaredBy = new Map<string, string>();
  const setups: OperatorSetup[] = [];
  const add = (
    operatorName: string,
    entry: OperatorItem,
    where: { path: string; line: number },
  ) => {
    if (operatorName === REGISTRY_NODE || registries.includes(operatorName)) {
      fail(
        where.path,
        where.line,
        `"${operatorName}" is ${registryNodeWords(registries, operatorName)}'s name; pick another`,
      );
    }
    const earlier = declaredBy.get(operatorName);
    if (earlier !== undefined) {
      fail(
        where.path,
        where.line,
        `duplicate operator name "${operatorName}" (already declared by ${earlier})`,
      );
    }
    declaredBy.set(operatorName, entry.path);
    setups.push({
      name: operatorName,
      weight: entry.weight,
      behaviour: entry.behaviour,
      registeredAtStart: entry.registeredAtStart,
      spareKeys: entry.spareKeys,
      ...(entry.registries === undefined ? {} : { registries: entry.registries }),
    });
  };
  for (const entry of parsed) {
    if (entry.name) add(entry.name.value, entry, entry.name);
    if (entry.group) {
      const { prefix, count } = entry.group;
      const width = Math.max(2, String((totals.get(prefix) ?? count) - 1).length);
      const start = next.get(prefix) ?? 0;
      for (let i = start; i < start + count; i++) {
        add(`${prefix}${String(i).padStart(width, '0')}`, entry, entry.group);
      }
      next.set(prefix, start + count);
    }
  }
  return setups;
}

function parseUsers(top: Fields): string[] {
  const node = top.get('users');
  if (node === undefined) return [...SCENARIO_DEFAULTS.users];
  const users = list(name('user'), 'a list of user names, e.g. [alice, bob]')(node, 'users');
  if (users.length === 0)
    fail('users', node.line, 'needs at least one user (or leave it out for [alice])');
  users.forEach((user, index) => {
    if (users.indexOf(user) !== index) {
      const line = node.kind === 'seq' ? (node.items[index]?.line ?? node.line) : node.line;
      fail(item('users', index), line, `duplicate user "${user}"`);
    }
  });
  return users;
}

// --- timeline ------------------------------------------------------------------------------

interface Refs {
  registries: readonly string[];
  operators: ReadonlyMap<string, OperatorSetup>;
  operatorNames: readonly string[];
  users: readonly string[];
  chain: ChainSetup;
  durationMs: number;
  /** rotateKey steps seen so far, per operator. */
  rotations: Map<string, number>;
}

const ACTIONS = [
  'register',
  'deregister',
  'setWeight',
  'rotateKey',
  'setValue',
  'request',
  'crash',
  'restart',
  'partition',
  'heal',
  'setBehaviour',
  'networkConditions',
  'rpcFault',
  'reorg',
  'clockSkew',
  'unsuspend',
  'corruptChainView',
  'hostile',
] as const;
type ActionKey = (typeof ACTIONS)[number];

function operatorRef(refs: Refs): Parser<string> {
  return (node, path) => {
    const value = text('an operator name')(node, path);
    if (refs.operators.has(value)) return value;
    if (value === REGISTRY_NODE || refs.registries.includes(value)) {
      fail(
        path,
        node.line,
        `this action needs an operator; "${value}" is ${registryNodeWords(refs.registries, value)}`,
      );
    }
    return fail(
      path,
      node.line,
      `unknown operator ${JSON.stringify(value)}${didYouMean(value, refs.operatorNames)} (operators: ${summarise(refs.operatorNames)})`,
    );
  };
}

function nodeRef(refs: Refs): Parser<string> {
  return (node, path) => {
    const value = text('a node name (an operator or a registry)')(node, path);
    if (refs.operators.has(value) || refs.registries.includes(value)) return value;
    const nodes = [...refs.registries, ...refs.operatorNames];
    return fail(
      path,
      node.line,
      `unknown node ${JSON.stringify(value)}${didYouMean(value, nodes)} (nodes: ${summarise(nodes)})`,
    );
  };
}

/** "the registry node" in a one-registry scenario, else "a registry node". */
function registryNodeWords(registries: readonly string[], value: string): string {
  return registries.length === 1 && registries[0] === value
    ? 'the registry node'
    : 'a registry node';
}

/** An operator's `registries: [regA]`: a non-empty subset of the scenario's registries. */
function operatorRegistries(registries: readonly string[]): Parser<string[]> {
  const parseList = list(text('a registry name'), 'a list of registry names, e.g. [regA]');
  return (node, path) => {
    const names = parseList(node, path);
    if (names.length === 0) {
      fail(path, node.line, 'needs at least one registry (or leave it out for all of them)');
    }
    names.forEach((value, index) => {
      const line = node.kind === 'seq' ? (node.items[index]?.line ?? node.line) : node.line;
      if (!registries.includes(value)) {
        fail(
          item(path, index),
          line,
          `unknown registry ${JSON.stringify(value)}${didYouMean(value, registries)} (registries: ${registries.join(', ')})`,
        );
      }
      if (names.indexOf(value) !== index) {
        fail(item(path, index), line, `duplicate registry "${value}"`);
      }
    });
    return names;
  };
}

function registryRef(refs: Refs): Parser<string> {
  return (node, path) => {
    const value = text('a registry name')(node, path);
    if (refs.registries.includes(value)) return value;
    return fail(
      path,
      node.line,
      `unknown registry ${JSON.stringify(value)}${didYouMean(value, refs.registries)} (registries: ${refs.registries.join(', ')})`,
    );
  };
}

function userRef(refs: Refs): Parser<string> {
  return (node, path) => {
    const value = text('a user name')(node, path);
    if (refs.users.includes(value)) return value;
    return fail(
      path,
      node.line,
      `unknown user ${JSON.stringify(value)}${didYouMean(value, refs.users)} (users: ${refs.users.join(', ')}; declare users under "users")`,
    );
  };
}

function chainRef(refs: Refs): Parser<number> {
  const { mainChainId, stateChainIds } = refs.chain;
  return (node, path) => {
    if (node.kind === 'scalar' && node.value === 'main') return mainChainId;
    if (node.kind !== 'scalar' || typeof node.value !== 'bigint') {
      wrongType(node, path, 'a chain id or "main"');
    }
    const id = node.value;
    if (id === BigInt(mainChainId)) return mainChainId;
    const found = stateChainIds.find((stateId) => BigInt(stateId) === id);
    if (found === undefined) {
      fail(
        path,
        node.line,
        `chain ${id} is not in this scenario (chains: ${mainChainId} (main)${stateChainIds.map((s) => `, ${s}`).join('')}; add it to chain.stateChains)`,
      );
    }
    return found;
  };
}

function defaultChain(refs: Refs): number {
  return refs.chain.stateChainIds[0] ?? refs.chain.mainChainId;
}

const POINTS = ['latest', 'latestBlock', 'latestTimestamp'];

const queryPoint: Parser<QueryPoint> = (node, path) => {
  if (node.kind === 'scalar' && typeof node.value === 'string') {
    if (node.value === 'latest' || node.value === 'latestBlock') return { kind: 'latestBlock' };
    if (node.value === 'latestTimestamp') return { kind: 'latestTimestamp' };
    fail(
      path,
      node.line,
      `unknown point ${JSON.stringify(node.value)}${didYouMean(node.value, POINTS)}; expected latest, latestBlock, latestTimestamp or { block: N }`,
    );
  }
  if (node.kind === 'scalar' && typeof node.value === 'bigint') {
    return { kind: 'block', blockNumber: blockNumber(node, path) };
  }
  if (node.kind === 'map') {
    const f = fieldsOf(node, path, ['block'], 'a point');
    return { kind: 'block', blockNumber: required(f, 'block', blockNumber) };
  }
  return wrongType(node, path, 'latest, latestBlock, latestTimestamp or { block: N }');
};

const blockNumber: Parser<bigint> = (node, path) => {
  const value = uint256(node, path);
  if (value > MAX_UINT64) fail(path, node.line, `a block number fits in uint64, got ${value}`);
  return value;
};

function parseAction(key: ActionKey, node: YNode, path: string, at: StepTime, refs: Refs): Action {
  const operator = operatorRef(refs);
  switch (key) {
    case 'register':
    case 'deregister':
    case 'unsuspend':
      return { kind: key, operator: operator(node, path) };
    case 'rotateKey': {
      const name = operator(node, path);
      const done = (refs.rotations.get(name) ?? 0) + 1;
      refs.rotations.set(name, done);
      const spare = refs.operators.get(name)?.spareKeys ?? 0;
      if (done > spare) {
        fail(
          path,
          node.line,
          `${name} has spareKeys: ${spare}, so it cannot rotate ${done === 1 ? 'its key' : `a ${ordinal(done)} time`} (give it spareKeys: ${done})`,
        );
      }
      return { kind: 'rotateKey', operator: name };
    }
    case 'setWeight': {
      const f = fieldsOf(node, path, ['operator', 'weight'], 'a map { operator, weight }');
      return {
        kind: 'setWeight',
        operator: required(f, 'operator', operator),
        weight: required(f, 'weight', uint256),
      };
    }
    case 'setValue': {
      const f = fieldsOf(
        node,
        path,
        ['chain', 'user', 'key', 'value'],
        'a map { chain, user, key, value }',
      );
      return {
        kind: 'setValue',
        chainId: optional(f, 'chain', chainRef(refs)) ?? defaultChain(refs),
        user: optional(f, 'user', userRef(refs)) ?? firstUser(refs),
        key: required(f, 'key', uint256),
        value: required(f, 'value', uint256),
      };
    }
    case 'request':
      return parseRequest(node, path, at, refs);
    case 'crash':
    case 'restart':
      return { kind: key, node: nodeRef(refs)(node, path) };
    case 'partition':
      return { kind: 'partition', groups: parsePartition(node, path, refs) };
    case 'heal':
      if (
        !(node.kind === 'scalar' && (node.value === null || node.value === true)) &&
        !(node.kind === 'map' && node.entries.length === 0)
      ) {
        fail(
          path,
          node.line,
          `heal takes no value (write "heal:" or "heal: true"), got ${describe(node)}`,
        );
      }
      return { kind: 'heal' };
    case 'setBehaviour': {
      const f = fieldsOf(node, path, ['operator', 'behaviour'], 'a map { operator, behaviour }');
      return {
        kind: 'setBehaviour',
        operator: required(f, 'operator', operator),
        behaviour: required(f, 'behaviour', behaviour),
      };
    }
    case 'networkConditions': {
      const f = fieldsOf(node, path, NETWORK_KEYS, 'a map of network conditions');
      const conditions = parseNetworkFields(f);
      if (Object.keys(conditions).length === 0) {
        fail(path, f.line, `needs at least one of ${NETWORK_KEYS.join(', ')}`);
      }
      return { kind: 'networkConditions', conditions };
    }
    case 'rpcFault': {
      const f = fieldsOf(
        node,
        path,
        ['chain', 'errorRate', 'latency', 'staleBlocks', 'duration'],
        'a map { chain, errorRate, latency, staleBlocks, duration }',
      );
      const fault = {
        kind: 'rpcFault' as const,
        chainId: required(f, 'chain', chainRef(refs), 'a chain id or "main"'),
        errorRate: optional(f, 'errorRate', probability) ?? 0,
        latencyMs: optional(f, 'latency', duration()) ?? 0,
        staleBlocks: optional(f, 'staleBlocks', integer(0, 1000, 'blocks')) ?? 0,
        durationMs: required(f, 'duration', duration({ min: 1 }), 'how long the fault lasts'),
      };
      if (fault.errorRate === 0 && fault.latencyMs === 0 && fault.staleBlocks === 0) {
        fail(path, f.line, 'has no effect: give at least one of errorRate, latency, staleBlocks');
      }
      return fault;
    }
    case 'reorg': {
      const f = fieldsOf(node, path, ['chain', 'depth'], 'a map { chain, depth }');
      return {
        kind: 'reorg',
        chainId: required(f, 'chain', chainRef(refs), 'a chain id or "main"'),
        depth: required(f, 'depth', integer(1, 1000, 'blocks')),
      };
    }
    case 'corruptChainView': {
      const f = fieldsOf(
        node,
        path,
        ['registry', 'weightFactor', 'duration'],
        'a map { registry, weightFactor, duration }',
      );
      const weightFactor = required(f, 'weightFactor', uint256, 'e.g. 2');
      if (weightFactor === 1n) {
        fail(
          child(path, 'weightFactor'),
          f.keyLine('weightFactor'),
          'a factor of 1 changes nothing',
        );
      }
      return {
        kind: 'corruptChainView',
        registry: required(f, 'registry', registryRef(refs)),
        weightFactor,
        durationMs: required(f, 'duration', duration({ min: 1 }), 'how long the view is wrong'),
      };
    }
    case 'hostile': {
      const f = fieldsOf(node, path, ['attack', 'count'], 'a map { attack, count }');
      return {
        kind: 'hostile',
        attack: required(f, 'attack', oneOf(HOSTILE_ATTACKS, 'a hostile attack')),
        count: optional(f, 'count', integer(1, MAX_HOSTILE_COUNT)) ?? 1,
      };
    }
    case 'clockSkew': {
      const f = fieldsOf(node, path, ['node', 'skew'], 'a map { node, skew }');
      return {
        kind: 'clockSkew',
        node: required(f, 'node', nodeRef(refs)),
        skewMs: required(f, 'skew', duration({ allowNegative: true }), 'e.g. 2s or -500ms'),
      };
    }
  }
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th';
  return `${n}${suffix}`;
}

function firstUser(refs: Refs): string {
  const [user] = refs.users;
  return user ?? SCENARIO_DEFAULTS.users[0];
}

function parseRequest(node: YNode, path: string, at: StepTime, refs: Refs): Action {
  const f = fieldsOf(
    node,
    path,
    ['chain', 'user', 'key', 'point', 'count', 'every', 'via'],
    'a map { chain, user, key, point, count, every, via }',
  );
  const via = optional(f, 'via', registryRef(refs));
  const chainId = optional(f, 'chain', chainRef(refs)) ?? defaultChain(refs);
  const user = optional(f, 'user', userRef(refs)) ?? firstUser(refs);
  const key = required(f, 'key', uint256);
  const point = optional(f, 'point', queryPoint) ?? SCENARIO_DEFAULTS.request.point;
  const count =
    optional(f, 'count', integer(1, LIMITS.maxRequestCount)) ?? SCENARIO_DEFAULTS.request.count;
  let everyMs = optional(f, 'every', duration({ min: 1 }));
  if (everyMs === undefined) {
    if (count > 1) {
      fail(child(path, 'every'), f.line, `is required when count is more than 1 (count: ${count})`);
    }
    everyMs = 0;
  }
  if (at.kind === 'time' && count > 1) {
    const lastMs = at.atMs + (count - 1) * everyMs;
    if (lastMs >= refs.durationMs) {
      fail(
        child(path, 'count'),
        f.keyLine('count'),
        `the last of ${count} requests would be made at ${formatDuration(lastMs)}, not before the run ends at ${formatDuration(refs.durationMs)}`,
      );
    }
  }
  return {
    kind: 'request',
    chainId,
    user,
    key,
    point:
      point.kind === 'block'
        ? { kind: 'block', blockNumber: point.blockNumber }
        : { kind: point.kind },
    count,
    everyMs,
    ...(via === undefined ? {} : { via }),
  };
}

function parsePartition(node: YNode, path: string, refs: Refs): string[][] {
  const expected = 'a list of groups of node names, e.g. [[registry, op00], [op01]]';
  if (node.kind !== 'seq') wrongType(node, path, expected);
  if (node.items.length === 0) fail(path, node.line, 'needs at least one group');
  const seen = new Map<string, number>();
  return node.items.map((groupNode, groupIndex) => {
    const groupPath = item(path, groupIndex);
    if (groupNode.kind === 'scalar' && typeof groupNode.value === 'string') {
      fail(
        groupPath,
        groupNode.line,
        `each group is a list of node names; to cut ${JSON.stringify(groupNode.value)} off alone write [[${groupNode.value}]]`,
      );
    }
    if (groupNode.kind !== 'seq') wrongType(groupNode, groupPath, 'a list of node names');
    if (groupNode.items.length === 0)
      fail(groupPath, groupNode.line, 'a group needs at least one node');
    return groupNode.items.map((memberNode, memberIndex) => {
      const memberPath = item(groupPath, memberIndex);
      const member = nodeRef(refs)(memberNode, memberPath);
      const earlier = seen.get(member);
      if (earlier !== undefined) {
        fail(memberPath, memberNode.line, `${member} is already in group ${earlier}`);
      }
      seen.set(member, groupIndex);
      return member;
    });
  });
}

function parseTimeline(top: Fields, refs: Refs): TimelineStep[] {
  const node = top.get('timeline');
  if (node === undefined) return [];
  if (node.kind !== 'seq')
    wrongType(node, 'timeline', 'a list of steps, each with "at" and one action');
  return node.items.map((stepNode, index) => {
    const path = item('timeline', index);
    const f = fieldsOf(
      stepNode,
      path,
      ['at', ...ACTIONS],
      'a step: a map with "at" and one action',
    );
    const at = required(f, 'at', stepTime, 'e.g. at: 90s or at: epoch 3');
    if (at.kind === 'time' && at.atMs >= refs.durationMs) {
      fail(
        child(path, 'at'),
        f.keyLine('at'),
        `${formatDuration(at.atMs)} is not before the end of the run (duration ${formatDuration(refs.durationMs)})`,
      );
    }
    const present = f.map.entries.flatMap((e) => ACTIONS.filter((action) => action === e.key));
    const [actionKey, second] = present;
    if (actionKey === undefined) {
      fail(path, f.line, `a step needs one action: ${ACTIONS.join(', ')}`);
    }
    if (second !== undefined) {
      fail(
        child(path, second),
        f.keyLine(second),
        `a step has exactly one action, but this one has both ${actionKey} and ${second}; split it into two steps`,
      );
    }
    const actionNode = f.get(actionKey) as YNode;
    return {
      at,
      line: f.line,
      action: parseAction(actionKey, actionNode, child(path, actionKey), at, refs),
    };
  });
}

// --- assertions ----------------------------------------------------------------------------

const SUBJECTS = ['tasks', 'operator', 'latency', 'epoch', 'registries', 'registry'] as const;
const OPERATOR_CHECKS = ['status', 'missing', 'successfulResponseCount', 'via'] as const;
const REGISTRY_CHECKS = REGISTRY_COUNTERS;
const OUTCOMES = ['completed', 'failed', 'expired', 'pending', 'all'] as const;
const PERCENTILES = { p50: 50, p95: 95, p99: 99 } as const;

function parseAssertions(top: Fields, refs: Refs): Assertion[] {
  const node = top.get('assertions');
  if (node === undefined) return [];
  if (node.kind !== 'seq') wrongType(node, 'assertions', 'a list of assertions');
  const out: Assertion[] = [];
  node.items.forEach((entry, index) => {
    const path = item('assertions', index);
    const f = fieldsOf(
      entry,
      path,
      [...SUBJECTS, ...OPERATOR_CHECKS, ...REGISTRY_CHECKS, 'within'],
      'an assertion: a map with one of tasks, operator, latency, epoch, registries, registry',
    );
    const subjects = f.map.entries.flatMap((e) => SUBJECTS.filter((subject) => subject === e.key));
    const [subject, second] = subjects;
    if (subject === undefined) {
      const stray = OPERATOR_CHECKS.find((check) => f.get(check) !== undefined);
      if (stray !== undefined) {
        fail(child(path, stray), f.keyLine(stray), `needs an "operator" in the same item`);
      }
      fail(path, f.line, `an assertion needs one of ${SUBJECTS.join(', ')}`);
    }
    if (second !== undefined) {
      fail(
        child(path, second),
        f.keyLine(second),
        `one check per item: this item has both ${subject} and ${second}; split it into two items`,
      );
    }
    if (subject !== 'operator') {
      const stray = OPERATOR_CHECKS.find((check) => f.get(check) !== undefined);
      if (stray !== undefined) {
        fail(
          child(path, stray),
          f.keyLine(stray),
          `belongs to an operator assertion, not a ${subject} assertion`,
        );
      }
    }
    if (subject !== 'registry') {
      const stray = REGISTRY_CHECKS.find((check) => f.get(check) !== undefined);
      if (stray !== undefined) {
        fail(
          child(path, stray),
          f.keyLine(stray),
          `belongs to a registry assertion (registry: <name>), not ${/^[aeiou]/.test(subject) ? 'an' : 'a'} ${subject} assertion`,
        );
      }
    }
    const timing = optional(f, 'within', within(refs)) ?? { kind: 'final' };
    const subjectNode = f.get(subject) as YNode;
    const subjectPath = child(path, subject);
    switch (subject) {
      case 'tasks': {
        const tasks = fieldsOf(
          subjectNode,
          subjectPath,
          OUTCOMES,
          'a map of outcomes to comparisons, e.g. { completed: ">= 5" }',
        );
        if (tasks.map.entries.length === 0) {
          fail(subjectPath, tasks.line, `needs at least one of ${OUTCOMES.join(', ')}`);
        }
        for (const outcomeEntry of tasks.map.entries) {
          const outcome = OUTCOMES.find((o) => o === outcomeEntry.key) ?? 'all';
          const { comparison, value } = countComparison(
            outcomeEntry.value,
            child(subjectPath, outcome),
          );
          out.push({
            line: outcomeEntry.keyLine,
            timing,
            kind: 'taskCount',
            outcome,
            comparison,
            value,
          });
        }
        break;
      }
      case 'operator': {
        const names =
          subjectNode.kind === 'seq'
            ? list(operatorRef(refs), 'a list of operator names')(subjectNode, subjectPath)
            : [operatorRef(refs)(subjectNode, subjectPath)];
        if (names.length === 0) fail(subjectPath, subjectNode.line, 'needs at least one operator');
        const via = optional(f, 'via', registryRef(refs));
        const checks = f.map.entries.filter((e) =>
          OPERATOR_CHECKS.some((check) => check === e.key && check !== 'via'),
        );
        if (checks.length === 0) {
          fail(
            path,
            f.line,
            `an operator assertion needs status, missing, successfulResponseCount (at least one)`,
          );
        }
        for (const operatorName of names) {
          for (const checkEntry of checks) {
            const checkPath = child(path, checkEntry.key);
            if (checkEntry.key === 'status') {
              const status: OperatorStatus = oneOf(OPERATOR_STATUSES, 'status')(
                checkEntry.value,
                checkPath,
              );
              out.push({
                line: checkEntry.keyLine,
                timing,
                kind: 'operatorStatus',
                operator: operatorName,
                status,
                ...(via === undefined ? {} : { via }),
              });
            } else {
              const counter = checkEntry.key === 'missing' ? 'missing' : 'successfulResponseCount';
              const { comparison, value } = countComparison(checkEntry.value, checkPath);
              out.push({
                line: checkEntry.keyLine,
                timing,
                kind: 'operatorCounter',
                operator: operatorName,
                ...(via === undefined ? {} : { via }),
                counter,
                comparison,
                value,
              });
            }
          }
        }
        break;
      }
      case 'latency': {
        const latency = fieldsOf(
          subjectNode,
          subjectPath,
          Object.keys(PERCENTILES),
          'a map of percentiles to comparisons, e.g. { p95: "<= 5s" }',
          (key) => `${key} is not a supported percentile; use p50, p95 or p99`,
        );
        if (latency.map.entries.length === 0) {
          fail(subjectPath, latency.line, 'needs at least one of p50, p95, p99');
        }
        for (const percentileEntry of latency.map.entries) {
          const percentile =
            percentileEntry.key === 'p50' ? 50 : percentileEntry.key === 'p95' ? 95 : 99;
          const { comparison, valueMs } = durationComparison(
            percentileEntry.value,
            child(subjectPath, percentileEntry.key),
          );
          out.push({
            line: percentileEntry.keyLine,
            timing,
            kind: 'latency',
            percentile,
            comparison,
            valueMs,
          });
        }
        break;
      }
      case 'epoch': {
        const { comparison, value } = countComparison(subjectNode, subjectPath);
        out.push({ line: f.keyLine('epoch'), timing, kind: 'epoch', comparison, value });
        break;
      }
      case 'registries': {
        const checks = fieldsOf(
          subjectNode,
          subjectPath,
          ['stateHash', 'counters'],
          'a map { stateHash: agree, counters: agree }',
        );
        const stateHash = optional(checks, 'stateHash', oneOf(['agree'] as const, 'check'));
        const counters = optional(checks, 'counters', oneOf(['agree'] as const, 'check'));
        if (stateHash === undefined && counters === undefined) {
          fail(subjectPath, f.keyLine('registries'), 'needs stateHash: agree or counters: agree');
        }
        if (stateHash === 'agree') {
          out.push({ line: f.keyLine('registries'), timing, kind: 'registryStateHashAgree' });
        }
        if (counters === 'agree') {
          out.push({ line: f.keyLine('registries'), timing, kind: 'registryCountersAgree' });
        }
        break;
      }
      case 'registry': {
        const registry = registryRef(refs)(subjectNode, subjectPath);
        const checks = f.map.entries.filter((e) => REGISTRY_CHECKS.some((c) => c === e.key));
        if (checks.length === 0) {
          fail(path, f.line, `a registry assertion needs ${REGISTRY_CHECKS.join(' or ')}`);
        }
        for (const checkEntry of checks) {
          const counter =
            REGISTRY_CHECKS.find((c) => c === checkEntry.key) ?? 'divergencesDetected';
          const { comparison, value } = countComparison(
            checkEntry.value,
            child(path, checkEntry.key),
          );
          out.push({
            line: checkEntry.keyLine,
            timing,
            kind: 'registryCounter',
            registry,
            counter,
            comparison,
            value,
          });
        }
        break;
      }
    }
  });
  return out;
}

function within(refs: Refs): Parser<AssertionTiming> {
  return (node, path) => {
    const time = stepTime(node, path);
    if (time.kind === 'epoch') {
      if (time.epoch < 1)
        fail(path, node.line, 'epoch 0 starts before the run; use epoch 1 or later');
      return { kind: 'withinEpoch', epoch: time.epoch };
    }
    if (time.atMs > refs.durationMs) {
      fail(
        path,
        node.line,
        `${formatDuration(time.atMs)} is after the end of the run (duration ${formatDuration(refs.durationMs)})`,
      );
    }
    return { kind: 'within', byMs: time.atMs };
  };
}
