/**
 * `pnpm sim <scenario.yaml> [options]`: runs a scenario in the deterministic simulator.
 *
 *   --seed N               the seed (default: the scenario's)
 *   --network sim|libp2p   the network (default sim); libp2p runs the real libp2p stack on the
 *                          in-process memory transport (same verdict, trace not reproducible)
 *   --operators N          resize the operator set (generated honest operators added or dropped)
 *   --operator-store memory|pglite
 *                          where operators keep their stores (default memory; pglite runs the
 *                          SQL store adapter, as deployed, at several times the cost)
 *   --registry-store memory|pglite
 *                          where registries keep their stores (default memory), likewise
 *   --check-determinism    run the seed twice; report the first diverging trace event
 *   --swarm --seeds N      run seeds 1..N with fault rates drawn from each seed
 *   --out DIR              where trace, report and summary go (default .sim/<scenario>-seed<N>)
 *   --quiet                no live progress
 */
import { parseArgs } from 'node:util';
import type { NetworkMode } from './harness/cluster-network.ts';
import { runScenario } from './harness/run-scenario.ts';
import { STORE_MODES, type StoreMode } from './harness/sim-cluster.ts';
import { withSwarmFaults } from './harness/swarm.ts';
import { formatProgressLine, formatSummary } from './report/summary-table.ts';
import { writeRunOutputs } from './report/write-report.ts';
import { loadScenario } from './scenario/parse-scenario.ts';
import { resizeOperators } from './scenario/resize.ts';
import { type Scenario, ScenarioError } from './scenario/scenario.ts';

const USAGE =
  'usage: pnpm sim <scenario.yaml> [--seed N] [--network sim|libp2p] [--operators N] [--operator-store memory|pglite] [--registry-store memory|pglite] [--check-determinism] [--swarm --seeds N] [--out DIR] [--quiet]';

function fail(message: string, code = 2): never {
  console.error(`sim: ${message}`);
  process.exit(code);
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    fail(`--${name} expects a whole number ≥ 1, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        seed: { type: 'string' },
        network: { type: 'string', default: 'sim' },
        operators: { type: 'string' },
        'operator-store': { type: 'string', default: 'memory' },
        'registry-store': { type: 'string', default: 'memory' },
        'check-determinism': { type: 'boolean', default: false },
        swarm: { type: 'boolean', default: false },
        seeds: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values['help']) {
    console.log(USAGE);
    return;
  }
  const path = positionals[0];
  if (path === undefined || positionals.length > 1) fail(USAGE);
  const networkValue = String(values['network']);
  if (networkValue !== 'sim' && networkValue !== 'libp2p')
    fail(`--network must be sim or libp2p, got ${networkValue}`);
  const network: NetworkMode = networkValue;
  if (network === 'libp2p' && values['check-determinism']) {
    fail(
      '--check-determinism needs --network sim: on libp2p, real-time deliveries interleave differently on every run, so only the verdict (not the trace) is reproducible',
    );
  }

  const storeMode = (option: 'operator-store' | 'registry-store'): StoreMode => {
    const mode = STORE_MODES.find((candidate) => candidate === String(values[option]));
    if (mode === undefined)
      fail(`--${option} must be ${STORE_MODES.join(' or ')}, got ${String(values[option])}`);
    return mode;
  };
  const operatorStore = storeMode('operator-store');
  const registryStore = storeMode('registry-store');

  let scenario: Scenario;
  try {
    scenario = loadScenario(path);
  } catch (error) {
    if (error instanceof ScenarioError) fail(error.message);
    throw error;
  }
  const operators = positiveInt('operators', values['operators'] as string | undefined);
  if (operators !== undefined) scenario = resizeOperators(scenario, operators);
  const quiet = Boolean(values['quiet']);
  const extra =
    (operators === undefined ? '' : ` --operators ${operators}`) +
    (network === 'sim' ? '' : ` --network ${network}`) +
    (operatorStore === 'memory' ? '' : ` --operator-store ${operatorStore}`) +
    (registryStore === 'memory' ? '' : ` --registry-store ${registryStore}`);
  const replay = (seed: number) => `pnpm sim ${path} --seed ${seed}${extra}`;

  const runOnce = async (runScenarioValue: Scenario, seed: number, showProgress: boolean) =>
    runScenario(runScenarioValue, {
      seed,
      network,
      operatorStore,
      registryStore,
      replayCommand: replay(seed),
      ...(showProgress
        ? { onProgress: (progress) => process.stderr.write(`${formatProgressLine(progress)}\n`) }
        : {}),
    });

  if (values['swarm']) {
    const seeds = positiveInt('seeds', values['seeds'] as string | undefined) ?? 20;
    const failures: string[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const { result } = await runOnce(withSwarmFaults(scenario, seed), seed, false);
      const line = `seed ${seed}: ${result.passed ? 'PASS' : 'FAIL'}  ${result.tasks.length} tasks, ${result.violations.length} violations`;
      console.log(line);
      if (!result.passed)
        failures.push(
          `${replay(seed)} --swarm   # ${result.violations[0]?.invariant ?? result.assertions.find((a) => !a.passed)?.description ?? ''}`,
        );
    }
    if (failures.length > 0) {
      console.log(`\n${failures.length} of ${seeds} seeds failed; replay:\n${failures.join('\n')}`);
      process.exit(1);
    }
    console.log(`\nall ${seeds} seeds passed`);
    return;
  }

  const seed = positiveInt('seed', values['seed'] as string | undefined) ?? scenario.defaultSeed;
  if (values['check-determinism']) {
    const first = await runOnce(scenario, seed, false);
    const second = await runOnce(scenario, seed, false);
    if (first.result.traceHash === second.result.traceHash) {
      console.log(
        `deterministic: seed ${seed} gives trace ${first.result.traceHash} (${first.result.traceEventCount} events) twice`,
      );
      return;
    }
    const a = first.trace.lines();
    const b = second.trace.lines();
    const index = a.findIndex((line, i) => line !== b[i]);
    console.log(
      `NOT deterministic: seed ${seed} gave ${first.result.traceHash} then ${second.result.traceHash}`,
    );
    console.log(
      `first divergence at event ${index}:\n  run 1: ${a[index] ?? '(end)'}\n  run 2: ${b[index] ?? '(end)'}`,
    );
    process.exit(1);
  }

  const { result, trace } = await runOnce(scenario, seed, !quiet);
  const dir = String(values['out'] ?? `.sim/${scenario.name}-seed${seed}`);
  const paths = await writeRunOutputs(result, trace.lines(), dir);
  console.log(formatSummary({ ...result, tracePath: paths.trace, reportPath: paths.report }));
  console.log(`trace: ${paths.trace}\nreport: ${paths.report}`);
  if (!result.passed) {
    console.log(`\nFAILED (seed ${seed}). Replay with:\n  ${replay(seed)}`);
    process.exit(1);
  }
}

await main();
