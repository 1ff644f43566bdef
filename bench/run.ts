/**
 * `pnpm bench [--quick] [--profile] [--networks sim,libp2p] [--operators 4,16,64,128]
 *             [--compression-cap SECONDS] [--out DIR]`
 *
 * The threshold-aggregation benchmark (SPEC §8, docs/benchmarks.md). Each measurement runs in
 * its own worker process; this file only plans, prints progress and writes the results:
 *  1. signature verification throughput (`verify-worker.ts`);
 *  2. request → proof latency, proofs/s, CPU floor and peak RSS per (network, N)
 *     (`aggregation-worker.ts`);
 *  3. simulator time compression, 64 operators for one virtual hour (`compression-worker.ts`);
 *  4. with --profile, a CPU profile of one N=64 sim run, summarised.
 * Results: DIR/<timestamp>/{results.json,summary.txt,latency-vs-n.svg[,n64-sim.cpuprofile]} and a
 * copy of the latest run as DIR/latest.{json,txt,svg}. Never part of `pnpm test`.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AggregationConfig, AggregationResult, NetworkMode } from './aggregation-worker.ts';
import type { CompressionConfig, CompressionResult } from './compression-worker.ts';
import { FLOOD_CONFIG, type FloodResult } from './flood-worker-config.ts';
import { runWorker } from './lib/child.ts';
import { type CpuProfile, summarizeCpuProfile } from './lib/cpu-profile.ts';
import { gitState, machineInfo } from './lib/machine.ts';
import { type PlotSeries, renderLatencyPlot } from './lib/plot.ts';
import { type BenchResults, evaluateTargets, formatSummary } from './lib/report.ts';
import type { VerifyConfig, VerifyResult } from './verify-worker.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const USAGE =
  'usage: pnpm bench [--quick] [--profile] [--flood] [--networks sim,libp2p] [--operators 4,16,64,128] [--compression-cap SECONDS] [--out DIR]';

interface Plan {
  operators: number[];
  samplesFor: (n: number) => number;
  /** Per (network, N): wall budget of the measured phase and of getting ready. */
  measureBudgetMs: number;
  readyBudgetMs: number;
  warmup: number;
  burst: number;
  floorRepetitions: number;
  verify: VerifyConfig;
  compression: Omit<CompressionConfig, 'wallCapMs'>;
  compressionCapMs: number;
  workerTimeoutMs: number;
}

const FULL: Plan = {
  operators: [4, 16, 64, 128],
  samplesFor: (n) => (n >= 128 ? 20 : n >= 64 ? 25 : 40),
  measureBudgetMs: 60_000,
  readyBudgetMs: 90_000,
  warmup: 3,
  burst: 8,
  floorRepetitions: 10,
  verify: { signatures: 1000, rounds: 15 },
  compression: {
    operators: 64,
    durationMs: 3_600_000,
    requestEveryMs: 10_000,
    firstRequestAtMs: 40_000,
    seed: 1,
  },
  compressionCapMs: 100_000,
  workerTimeoutMs: 420_000,
};

const QUICK: Plan = {
  ...FULL,
  operators: [4, 16],
  samplesFor: () => 10,
  measureBudgetMs: 20_000,
  readyBudgetMs: 60_000,
  warmup: 2,
  burst: 4,
  floorRepetitions: 5,
  verify: { signatures: 500, rounds: 3 },
  compressionCapMs: 30_000,
  workerTimeoutMs: 180_000,
};

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseList(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) fail(`--${name}: empty item in ${JSON.stringify(value)}`);
  return items;
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: false },
        flood: { type: 'boolean', default: false },
        networks: { type: 'string' },
        operators: { type: 'string' },
        'compression-cap': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const plan: Plan = { ...(values.quick ? QUICK : FULL) };
const networks = (parseList('networks', values.networks) ?? ['sim', 'libp2p']).map((n) => {
  if (n !== 'sim' && n !== 'libp2p') fail(`--networks: ${n} is not sim or libp2p`);
  return n as NetworkMode;
});
const operatorList = parseList('operators', values.operators);
if (operatorList) {
  plan.operators = operatorList.map((n) => {
    if (!/^\d+$/.test(n) || Number(n) < 1) fail(`--operators: ${n} is not a whole number ≥ 1`);
    return Number(n);
  });
}
if (values['compression-cap'] !== undefined) {
  const seconds = Number(values['compression-cap']);
  if (!Number.isFinite(seconds) || seconds <= 0) fail('--compression-cap expects seconds > 0');
  plan.compressionCapMs = seconds * 1000;
}

const startedAt = new Date();
const outRoot = resolve(values.out ?? join(repo, 'bench/results'));
const runDir = join(outRoot, startedAt.toISOString().replace(/[:.]/g, '-'));
mkdirSync(runDir, { recursive: true });
const benchStartMs = performance.now();
const elapsed = () => `${((performance.now() - benchStartMs) / 1000).toFixed(0).padStart(4)} s`;
const totalSteps = 1 + networks.length * plan.operators.length + 1 + (values.profile ? 1 : 0);
let step = 0;
const announce = (what: string) => console.log(`[${elapsed()}] (${++step}/${totalSteps}) ${what}`);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

const machine = machineInfo();
const git = gitState(repo);
console.log(
  `Spotted bench: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, commit ${git.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}`,
);
console.log(
  `load average ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}; results → ${relative(repo, runDir) || runDir}`,
);

const worker = (name: string) => join(here, name);
const results: Omit<BenchResults, 'targets'> = {
  schema: 1,
  startedAt: startedAt.toISOString(),
  wallMs: 0,
  machine,
  git,
  options: { ...values, plan: { ...plan, samplesFor: plan.operators.map(plan.samplesFor) } },
  aggregation: [],
};

announce('signature verification throughput');
try {
  results.verification = await runWorker<VerifyResult>({
    script: worker('verify-worker.ts'),
    config: plan.verify,
    resultPath: join(runDir, 'verify.json'),
    timeoutMs: plan.workerTimeoutMs,
  });
} catch (error) {
  results.verification = { error: errorText(error) };
  console.log(`    failed: ${errorText(error)}`);
}

for (const network of networks) {
  let skipped: string | undefined;
  for (const operators of plan.operators) {
    announce(`request → proof, ${network} network, N=${operators}`);
    if (skipped !== undefined) {
      console.log(`    skipped: ${skipped}`);
      results.aggregation.push({
        network,
        operators,
        status: 'skipped',
        skippedReason: skipped,
        wallMs: 0,
      });
      continue;
    }
    const config: AggregationConfig = {
      network,
      operators,
      samples: plan.samplesFor(operators),
      measureBudgetMs: plan.measureBudgetMs,
      readyBudgetMs: plan.readyBudgetMs,
      warmup: plan.warmup,
      burst: plan.burst,
      floorRepetitions: plan.floorRepetitions,
      seed: 1,
      gapMs: 1337,
    };
    try {
      const row = await runWorker<AggregationResult>({
        script: worker('aggregation-worker.ts'),
        config,
        resultPath: join(runDir, `aggregation-${network}-n${operators}.json`),
        timeoutMs: plan.workerTimeoutMs,
      });
      if (row.status === 'skipped') {
        skipped = row.skippedReason;
        console.log(`    skipped: ${skipped}`);
      }
      results.aggregation.push(row);
    } catch (error) {
      results.aggregation.push({ network, operators, error: errorText(error) });
      console.log(`    failed: ${errorText(error)}`);
    }
  }
}

announce(
  `time compression: ${plan.compression.operators} operators, ${plan.compression.durationMs / 60_000} virtual min (wall cap ${plan.compressionCapMs / 1000} s)`,
);
try {
  results.compression = await runWorker<CompressionResult>({
    script: worker('compression-worker.ts'),
    config: { ...plan.compression, wallCapMs: plan.compressionCapMs },
    resultPath: join(runDir, 'compression.json'),
    timeoutMs: plan.compressionCapMs + plan.workerTimeoutMs,
  });
} catch (error) {
  results.compression = { error: errorText(error) };
  console.log(`    failed: ${errorText(error)}`);
}

if (values.flood) {
  announce('honest latency, quiet vs a bogus-task flood (flood-worker.ts)');
  try {
    const flood = await runWorker<FloodResult>({
      script: worker('flood-worker.ts'),
      config: FLOOD_CONFIG,
      resultPath: join(runDir, 'flood.json'),
      timeoutMs: plan.workerTimeoutMs,
    });
    console.log(`    flood/quiet p50 ratio ${flood.p50Ratio?.toFixed(2)} (target ≤ 2)`);
  } catch (error) {
    console.log(`    failed: ${errorText(error)}`);
  }
}

if (values.profile) {
  announce('CPU profile: N=64, sim network (measured phase only)');
  const cpuProfilePath = join(runDir, 'n64-sim.cpuprofile');
  try {
    const run = await runWorker<AggregationResult>({
      script: worker('aggregation-worker.ts'),
      config: {
        network: 'sim',
        operators: 64,
        samples: plan.samplesFor(64),
        measureBudgetMs: plan.measureBudgetMs,
        readyBudgetMs: plan.readyBudgetMs,
        warmup: plan.warmup,
        burst: 0,
        floorRepetitions: 3,
        seed: 1,
        gapMs: 1337,
        cpuProfilePath,
        gateCallSites: true,
      } satisfies AggregationConfig,
      resultPath: join(runDir, 'profile-run.json'),
      timeoutMs: plan.workerTimeoutMs,
    });
    const profile = JSON.parse(readFileSync(cpuProfilePath, 'utf8')) as CpuProfile;
    results.profile = {
      cpuProfilePath: relative(repo, cpuProfilePath),
      summary: summarizeCpuProfile(profile, 40),
      gateCallSites: run.gateCallSites ?? [],
      run,
    };
  } catch (error) {
    console.log(`    failed: ${errorText(error)}`);
  }
}

results.wallMs = performance.now() - benchStartMs;
results.machine.loadAverageAtEnd = loadavg();
const final: BenchResults = { ...results, targets: evaluateTargets(results) };

const ok = final.aggregation.filter(
  (row): row is AggregationResult => !('error' in row) && row.status === 'ok',
);
const seriesFor = (
  network: NetworkMode,
  pick: (row: AggregationResult) => number | undefined,
): PlotSeries['points'] =>
  ok
    .filter((row) => row.network === network)
    .map((row) => ({ n: row.operators, ms: pick(row) ?? 0 }));
const svg = renderLatencyPlot({
  title: 'Spotted: request → proof latency vs operators',
  subtitle: `${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, ${git.commit.slice(0, 12)}, ${startedAt.toISOString().slice(0, 16)}`,
  series: [
    { label: 'sim p50', color: '#1f77b4', points: seriesFor('sim', (r) => r.wallLatency?.p50Ms) },
    {
      label: 'sim p95',
      color: '#1f77b4',
      dashed: true,
      points: seriesFor('sim', (r) => r.wallLatency?.p95Ms),
    },
    {
      label: 'libp2p p50',
      color: '#d62728',
      points: seriesFor('libp2p', (r) => r.wallLatency?.p50Ms),
    },
    {
      label: 'libp2p p95',
      color: '#d62728',
      dashed: true,
      points: seriesFor('libp2p', (r) => r.wallLatency?.p95Ms),
    },
    { label: 'CPU floor', color: '#7f7f7f', points: seriesFor('sim', (r) => r.floor?.totalMs) },
  ],
});
const summary = formatSummary(final);
writeFileSync(join(runDir, 'results.json'), `${JSON.stringify(final, null, 2)}\n`);
writeFileSync(join(runDir, 'summary.txt'), `${summary}\n`);
writeFileSync(join(runDir, 'latency-vs-n.svg'), svg);
for (const [file, latest] of [
  ['results.json', 'latest.json'],
  ['summary.txt', 'latest.txt'],
  ['latency-vs-n.svg', 'latest.svg'],
]) {
  copyFileSync(join(runDir, file as string), join(outRoot, latest as string));
}
console.log(`\n${summary}\n`);
console.log(
  `[${elapsed()}] done; results: ${relative(repo, join(runDir, 'results.json'))}, plot: ${relative(repo, join(runDir, 'latency-vs-n.svg'))}`,
);
