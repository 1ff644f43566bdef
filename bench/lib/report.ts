/**
 * The bench's results file and what a person reads: the targets of the benchmark issue, each
 * met / not met with the measured figure, and a table per measurement. Pure functions.
 */
import type { AggregationResult } from '../aggregation-worker.ts';
import type { CompressionResult } from '../compression-worker.ts';
import type { VerifyResult } from '../verify-worker.ts';
import type { ProfileSummary } from './cpu-profile.ts';
import type { CallSite } from './instruments.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  arch: string;
  /** 1, 5 and 15 minute load averages when the bench started: other work on the machine. */
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export interface BenchResults {
  schema: 1;
  startedAt: string;
  wallMs: number;
  machine: MachineInfo;
  git: { commit: string; dirty: boolean };
  options: Record<string, unknown>;
  verification?: VerifyResult | { error: string };
  aggregation: (AggregationResult | { network: string; operators: number; error: string })[];
  compression?: CompressionResult | { error: string };
  profile?: {
    cpuProfilePath: string;
    summary: ProfileSummary;
    gateCallSites: CallSite[];
    run: AggregationResult;
  };
  targets: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  /** null: not measured in this run (skipped or failed). */
  met: boolean | null;
  measured: string;
}

const isOk = (row: BenchResults['aggregation'][number]): row is AggregationResult =>
  !('error' in row) && row.status === 'ok';

export function evaluateTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const verification = results.verification;
  checks.push(
    verification && !('error' in verification)
      ? {
          target: 'verification ≥ 0.8× native recover',
          met: verification.verifyToRawRatio >= 0.8,
          measured: `${verification.verifyToRawRatio.toFixed(2)}× (${Math.round(verification.aggregatorVerify.opsPerSec)}/s vs ${Math.round(verification.nativeRawRecover.opsPerSec)}/s)`,
        }
      : { target: 'verification ≥ 0.8× native recover', met: null, measured: 'not measured' },
  );
  const sim64 = results.aggregation.find(
    (row) => row.network === 'sim' && row.operators === 64 && isOk(row),
  ) as AggregationResult | undefined;
  checks.push(
    sim64?.ratioToFloor && sim64.wallLatency && sim64.floor
      ? {
          target: 'N=64 on sim: p50 ≤ 1.5× CPU floor',
          met: sim64.ratioToFloor.p50 <= 1.5,
          measured: `${sim64.ratioToFloor.p50.toFixed(1)}× (p50 ${sim64.wallLatency.p50Ms.toFixed(0)} ms, floor ${sim64.floor.totalMs.toFixed(1)} ms)`,
        }
      : { target: 'N=64 on sim: p50 ≤ 1.5× CPU floor', met: null, measured: 'not measured' },
  );
  const compression = results.compression;
  checks.push(
    compression && !('error' in compression) && Number.isFinite(compression.wallForFullRunMs)
      ? {
          target: 'one virtual hour ≤ 30 s wall (≥ 120×)',
          met: compression.wallForFullRunMs <= 30_000,
          measured: `${compression.fullRunRatio.toFixed(1)}×, ${(compression.wallForFullRunMs / 1000).toFixed(0)} s for the hour${compression.complete ? '' : ` (projected from ${(compression.virtualReachedMs / 60_000).toFixed(1)} virtual min)`}`,
        }
      : { target: 'one virtual hour ≤ 30 s wall (≥ 120×)', met: null, measured: 'not measured' },
  );
  const rows128 = results.aggregation.filter(
    (row): row is AggregationResult => row.operators === 128 && isOk(row),
  );
  const peaks = rows128.map((row) => ({
    network: row.network,
    peakMiB: row.memory?.end.peakRssMiB ?? Number.NaN,
  }));
  checks.push(
    peaks.length > 0
      ? {
          target: '128 operators ≤ 4 GiB RSS',
          met: peaks.every((p) => p.peakMiB <= 4096),
          measured: peaks
            .map((p) => `${p.network} ${(p.peakMiB / 1024).toFixed(2)} GiB`)
            .join(', '),
        }
      : { target: '128 operators ≤ 4 GiB RSS', met: null, measured: 'not measured' },
  );
  return checks;
}

/** A plain-text table; columns listed in `leftAligned` (default: the first) are padded right. */
function table(header: string[], rows: string[][], leftAligned: number[] = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        leftAligned.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const ms = (value: number | undefined) =>
  value === undefined ? '-' : value.toFixed(value < 10 ? 1 : 0);

export function formatSummary(results: BenchResults): string {
  const out: string[] = [];
  out.push(
    `Spotted bench — ${results.startedAt} — commit ${results.git.commit.slice(0, 12)}${results.git.dirty ? ' (dirty)' : ''}`,
    `${results.machine.cpuModel}, ${results.machine.cores} cores, ${results.machine.memoryGiB.toFixed(0)} GiB, node ${results.machine.node}; load at start ${results.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    'Request → proof (wall ms; instant links; sequential requests)',
  );
  const notes: string[] = [];
  const rows = results.aggregation.map((row) => {
    if ('error' in row || row.status === 'skipped') {
      const problem = 'error' in row ? `error: ${row.error}` : `skipped: ${row.skippedReason}`;
      notes.push(`  ${row.network} N=${row.operators}: ${problem}`);
      return [row.network, String(row.operators), ...Array<string>(12).fill('-')];
    }
    return [
      row.network,
      String(row.operators),
      String(row.wallLatency?.count ?? '-'),
      ms(row.wallLatency?.p50Ms),
      ms(row.wallLatency?.p95Ms),
      ms(row.wallLatency?.p99Ms),
      ms(row.virtualLatency?.p50Ms),
      ms(row.floor?.totalMs),
      row.ratioToFloor ? `${row.ratioToFloor.p50.toFixed(1)}×` : '-',
      row.sequentialProofsPerSec?.toFixed(1) ?? '-',
      row.burst ? row.burst.proofsPerSec.toFixed(1) : '-',
      row.io ? row.io.gatedCalls.toFixed(0) : '-',
      row.io ? `${((100 * row.io.gateBusyMs) / (row.wallLatency?.meanMs ?? 1)).toFixed(0)}%` : '-',
      row.memory ? row.memory.end.peakRssMiB.toFixed(0) : '-',
    ];
  });
  out.push(
    table(
      [
        'network',
        'N',
        'proofs',
        'p50',
        'p95',
        'p99',
        'virt p50',
        'floor',
        'p50/floor',
        'proofs/s',
        'burst/s',
        'I/O calls',
        'gate busy',
        'peak RSS MiB',
      ],
      rows,
    ),
    ...notes,
  );
  const v = results.verification;
  if (v && !('error' in v)) {
    out.push(
      '',
      'Signature verification, one core (per second, best round)',
      table(
        ['path', 'ops/s'],
        [
          [
            'verifyOperatorSignature + native adapter (aggregator)',
            Math.round(v.aggregatorVerify.opsPerSec).toString(),
          ],
          [
            'native adapter recoverAddress',
            Math.round(v.nativeAdapterRecoverAddress.opsPerSec).toString(),
          ],
          [
            'libsecp256k1 ecdsaRecover, raw (secp256k1 npm)',
            Math.round(v.nativeRawRecover.opsPerSec).toString(),
          ],
          [
            '@noble/curves recoverPublicKey, raw',
            Math.round(v.nobleRawRecover.opsPerSec).toString(),
          ],
          [
            'noble adapter recoverAddress',
            Math.round(v.nobleAdapterRecoverAddress.opsPerSec).toString(),
          ],
          ['viem recoverAddress', Math.round(v.viemRecoverAddress.opsPerSec).toString()],
        ],
      ),
    );
  }
  const c = results.compression;
  if (c && !('error' in c)) {
    out.push(
      '',
      `Time compression: ${c.operators} operators, ${c.durationMs / 60_000} virtual min, a request every ${c.requestEveryMs / 1000} s`,
      c.complete
        ? `  ${(c.wallMs / 1000).toFixed(1)} s wall, ${c.ratio.toFixed(1)}× (${c.completed}/${c.requests} proofs, ${c.passed ? 'passed' : 'FAILED'}; virtual latency p50 ${ms(c.virtualLatency?.p50Ms)} ms)`
        : `  stopped at the wall cap: ${(c.virtualReachedMs / 60_000).toFixed(1)} virtual min in ${(c.wallMs / 1000).toFixed(0)} s (${c.ratio.toFixed(1)}×); projected full run ${(c.wallForFullRunMs / 1000).toFixed(0)} s (${c.fullRunRatio.toFixed(1)}×)`,
    );
    if (c.rpcPerVirtualMinute) {
      const top = Object.entries(c.rpcPerVirtualMinute.byMethod)
        .slice(0, 4)
        .map(([method, n]) => `${method} ${n}`)
        .join(', ');
      out.push(
        `  chain RPC requests per virtual minute: ${c.rpcPerVirtualMinute.total} (${top}, …)`,
      );
    }
  }
  if (results.profile) {
    out.push('', `CPU profile (N=64, sim, measured phase): ${results.profile.cpuProfilePath}`);
    out.push(
      table(
        ['self %', 'function'],
        results.profile.summary.top.slice(0, 15).map((e) => [e.percent.toFixed(1), e.name]),
        [1],
      ),
    );
  }
  out.push('', 'Targets');
  for (const check of results.targets) {
    const verdict = check.met === null ? 'NOT MEASURED' : check.met ? 'met' : 'NOT MET';
    out.push(`  ${verdict.padEnd(12)} ${check.target}: ${check.measured}`);
  }
  return out.join('\n');
}
