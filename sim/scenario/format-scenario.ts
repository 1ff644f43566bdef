import { stringify } from 'yaml';
import type { OperatorBehaviourSpec } from '../../src/operator/behaviour.ts';
import type { Action, Assertion, AssertionTiming, Scenario, StepTime } from './scenario.ts';
import { formatDuration } from './values.ts';

/**
 * A `Scenario` written back as scenario YAML, every field explicit: `parseScenario` of the
 * result equals the input apart from `line` fields. Useful to print a scenario a tool derived
 * (e.g. with randomised fault rates) so that it can be replayed as a file.
 */
export function formatScenario(scenario: Scenario): string {
  const { chain, network, aggregator } = scenario;
  const document = {
    name: scenario.name,
    description: scenario.description,
    seed: scenario.defaultSeed,
    duration: formatDuration(scenario.durationMs),
    chain: {
      epochLength: chain.epochLengthBlocks,
      gracePeriod: chain.gracePeriodBlocks,
      blockTime: formatDuration(chain.blockTimeMs),
      confirmations: chain.confirmations,
      stateChains: chain.stateChainIds,
      mainChainId: chain.mainChainId,
    },
    network: formatConditions(network),
    aggregator: {
      responseDeadline: formatDuration(aggregator.responseDeadlineMs),
      expiry: formatDuration(aggregator.expiryMs),
      maxRetries: aggregator.maxRetries,
      selection: aggregator.selection,
    },
    operators: scenario.operators.map((operator) => ({
      name: operator.name,
      weight: formatUint(operator.weight),
      behaviour: formatBehaviour(operator.behaviour),
      registered: operator.registeredAtStart,
      spareKeys: operator.spareKeys,
      ...(operator.registries === undefined ? {} : { registries: operator.registries }),
    })),
    users: scenario.users,
    ...(scenario.registries === undefined ? {} : { registries: scenario.registries }),
    timeline: scenario.timeline.map((step) => ({
      at: formatTime(step.at),
      ...formatAction(step.action),
    })),
    assertions: scenario.assertions.map(formatAssertion),
  };
  return stringify(document, { lineWidth: 0 });
}

function formatUint(value: bigint): string {
  return value.toString();
}

function formatTime(at: StepTime): string {
  return at.kind === 'epoch' ? `epoch ${at.epoch}` : formatDuration(at.atMs);
}

function formatBehaviour(spec: OperatorBehaviourSpec): unknown {
  switch (spec.kind) {
    case 'slow':
      return { slow: formatDuration(spec.delayMs) };
    case 'flood':
      return { flood: spec.count };
    default:
      return spec.kind;
  }
}

function formatConditions(conditions: {
  latencyMs?: number;
  jitterMs?: number;
  lossRate?: number;
  duplicateRate?: number;
}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (conditions.latencyMs !== undefined) out['latency'] = formatDuration(conditions.latencyMs);
  if (conditions.jitterMs !== undefined) out['jitter'] = formatDuration(conditions.jitterMs);
  if (conditions.lossRate !== undefined) out['loss'] = conditions.lossRate;
  if (conditions.duplicateRate !== undefined) out['duplication'] = conditions.duplicateRate;
  return out;
}

function formatAction(action: Action): Record<string, unknown> {
  switch (action.kind) {
    case 'register':
    case 'deregister':
    case 'rotateKey':
    case 'unsuspend':
      return { [action.kind]: action.operator };
    case 'setWeight':
      return { setWeight: { operator: action.operator, weight: formatUint(action.weight) } };
    case 'setValue':
      return {
        setValue: {
          chain: action.chainId,
          user: action.user,
          key: formatUint(action.key),
          value: formatUint(action.value),
        },
      };
    case 'request':
      return {
        request: {
          chain: action.chainId,
          user: action.user,
          key: formatUint(action.key),
          point:
            action.point.kind === 'block'
              ? { block: formatUint(action.point.blockNumber) }
              : action.point.kind,
          count: action.count,
          ...(action.everyMs === 0 ? {} : { every: formatDuration(action.everyMs) }),
          ...(action.via === undefined ? {} : { via: action.via }),
        },
      };
    case 'crash':
    case 'restart':
      return { [action.kind]: action.node };
    case 'partition':
      return { partition: action.groups };
    case 'heal':
      return { heal: true };
    case 'setBehaviour':
      return {
        setBehaviour: { operator: action.operator, behaviour: formatBehaviour(action.behaviour) },
      };
    case 'networkConditions':
      return { networkConditions: formatConditions(action.conditions) };
    case 'rpcFault':
      return {
        rpcFault: {
          chain: action.chainId,
          errorRate: action.errorRate,
          latency: formatDuration(action.latencyMs),
          staleBlocks: action.staleBlocks,
          duration: formatDuration(action.durationMs),
        },
      };
    case 'reorg':
      return { reorg: { chain: action.chainId, depth: action.depth } };
    case 'corruptChainView':
      return {
        corruptChainView: {
          registry: action.registry,
          weightFactor: formatUint(action.weightFactor),
          duration: formatDuration(action.durationMs),
        },
      };
    case 'clockSkew':
      return { clockSkew: { node: action.node, skew: formatDuration(action.skewMs) } };
    case 'hostile':
      return { hostile: { attack: action.attack, count: action.count } };
  }
}

function formatTiming(timing: AssertionTiming): Record<string, unknown> {
  switch (timing.kind) {
    case 'final':
      return {};
    case 'within':
      return { within: formatDuration(timing.byMs) };
    case 'withinEpoch':
      return { within: `epoch ${timing.epoch}` };
  }
}

function formatAssertion(assertion: Assertion): Record<string, unknown> {
  const timing = formatTiming(assertion.timing);
  switch (assertion.kind) {
    case 'taskCount':
      return {
        tasks: { [assertion.outcome]: `${assertion.comparison} ${assertion.value}` },
        ...timing,
      };
    case 'operatorStatus':
      return {
        operator: assertion.operator,
        status: assertion.status,
        ...(assertion.via === undefined ? {} : { via: assertion.via }),
        ...timing,
      };
    case 'operatorCounter':
      return {
        operator: assertion.operator,
        ...(assertion.via === undefined ? {} : { via: assertion.via }),
        [assertion.counter]: `${assertion.comparison} ${assertion.value}`,
        ...timing,
      };
    case 'latency':
      return {
        latency: {
          [`p${assertion.percentile}`]: `${assertion.comparison} ${formatDuration(assertion.valueMs)}`,
        },
        ...timing,
      };
    case 'epoch':
      return { epoch: `${assertion.comparison} ${assertion.value}`, ...timing };
    case 'registryStateHashAgree':
      return { registries: { stateHash: 'agree' }, ...timing };
    case 'registryCountersAgree':
      return { registries: { counters: 'agree' }, ...timing };
    case 'registryCounter':
      return {
        registry: assertion.registry,
        [assertion.counter]: `${assertion.comparison} ${assertion.value}`,
        ...timing,
      };
  }
}
