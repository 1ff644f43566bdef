import type { OperatorSetup, Scenario } from './scenario.ts';

/**
 * `--operators N`: keeps the first N operators, or adds honest ones (named `opNN` after the last
 * generated name) with the weight of the first operator. Steps and assertions that name a dropped
 * operator make the parser-validated scenario invalid, so shrinking below them is refused.
 */
export function resizeOperators(scenario: Scenario, count: number): Scenario {
  const current = scenario.operators;
  if (count === current.length) return scenario;
  if (count < current.length) {
    const kept = current.slice(0, count);
    const keptNames = new Set(kept.map((o) => o.name));
    const dropped = current.filter((o) => !keptNames.has(o.name)).map((o) => o.name);
    const mentioned = JSON.stringify([scenario.timeline, scenario.assertions], (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    const needed = dropped.filter((name) => mentioned.includes(`"${name}"`));
    if (needed.length > 0) {
      throw new RangeError(
        `--operators ${count} would drop ${needed.join(', ')}, which the scenario names`,
      );
    }
    return { ...scenario, operators: kept };
  }
  const template: OperatorSetup = current[0] ?? {
    name: 'op00',
    weight: 100n,
    behaviour: { kind: 'honest' },
    registeredAtStart: true,
    spareKeys: 0,
  };
  const names = new Set(current.map((o) => o.name));
  const added: OperatorSetup[] = [];
  for (let index = 0; current.length + added.length < count; index++) {
    const name = `op${String(index).padStart(3, '0')}`;
    if (names.has(name)) continue;
    added.push({
      name,
      weight: template.weight,
      behaviour: { kind: 'honest' },
      registeredAtStart: true,
      spareKeys: 0,
    });
  }
  return { ...scenario, operators: [...current, ...added] };
}
