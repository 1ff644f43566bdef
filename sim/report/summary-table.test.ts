import { describe, expect, it } from 'vitest';
import { fabricateRunResult, smallRunResult } from './fixtures.ts';
import { compressNames, formatDuration, formatRatio, formatWeight } from './format.ts';
import {
  formatProgressLine,
  formatSummary,
  formatVirtualTime,
  percentile,
} from './summary-table.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes.
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

describe('percentile (nearest rank)', () => {
  it('is undefined for no values', () => {
    expect(percentile([], 50)).toBeUndefined();
  });

  it('picks the smallest value with at least p% of values at or below it', () => {
    const values = [50, 15, 40, 20, 35];
    expect(percentile(values, 5)).toBe(15);
    expect(percentile(values, 30)).toBe(20);
    expect(percentile(values, 40)).toBe(20);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 0)).toBe(15);
    expect(values).toEqual([50, 15, 40, 20, 35]);
  });

  it('on 1..100 the pth percentile is p', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    for (const p of [1, 50, 95, 99, 100]) expect(percentile(values, p)).toBe(p);
    expect(percentile(values, 99.5)).toBe(100);
  });

  it('rejects p outside [0, 100]', () => {
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('formatting helpers', () => {
  it('formats virtual time as mm:ss.mmm', () => {
    expect(formatVirtualTime(205_400)).toBe('03:25.400');
    expect(formatVirtualTime(0)).toBe('00:00.000');
    expect(formatVirtualTime(3_723_004)).toBe('1:02:03.004');
  });

  it('formats durations, ratios, weights and name ranges', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1_436)).toBe('1.44 s');
    expect(formatDuration(123_456)).toBe('2m 03.5s');
    expect(formatRatio(143.04)).toBe('143x');
    expect(formatRatio(4.21)).toBe('4.2x');
    expect(formatWeight('32000000000000000000')).toBe('32e18');
    expect(formatWeight('1500000000000000000')).toBe('1.5e18');
    expect(formatWeight('1000')).toBe('1,000');
    expect(formatWeight('123456789012345678901')).toBe('1.23e20');
    expect(compressNames(['op01', 'op02', 'op03', 'op05', 'op06', 'x'])).toBe(
      'op01–op03, op05, op06, x',
    );
  });
});

describe('formatSummary', () => {
  const result = smallRunResult();
  const text = formatSummary(result);

  it('has the header numbers', () => {
    expect(text).toContain('three-operators');
    expect(text).toContain('FAIL');
    expect(text).toContain('seed 4242');
    expect(text).toContain('network sim');
    expect(text).toContain('final epoch 7');
    expect(text).toContain('virtual 03:25.400');
    expect(text).toContain('wall 1.44 s');
    expect(text).toContain('143x');
    expect(text).toContain('trace 9f86d081884c (12,345 events)');
  });

  it('counts tasks by outcome and gives latency percentiles of completed tasks', () => {
    const lines = text.split('\n');
    const header = lines.findIndex((line) =>
      /tasks\s+completed\s+failed\s+expired\s+pending/.test(line),
    );
    expect(header).toBeGreaterThan(-1);
    expect(lines[header + 2]?.trim().split(/\s+/)).toEqual(['6', '3', '1', '1', '1']);
    // Completed latencies: 400, 900, 1200.
    expect(text).toContain('p50 900 · p95 1,200 · p99 1,200 · max 1,200');
  });

  it('lists every operator with status, weight, behaviour and counters', () => {
    expect(text).toMatch(/op01\s+active\s+32e18\s+honest\s+0\s+3/);
    expect(text).toMatch(/op02\s+active\s+16e18\s+honest\s+1\s+2/);
    expect(text).toMatch(/op03\s+suspended\s+8e18\s+wrongValue\s+5\s+1/);
  });

  it('shows faults, assertions, violations and the replay command, in order', () => {
    const order = [
      'Tasks',
      'Operators',
      'Faults',
      'Assertions',
      'Invariant violations',
      'Replay',
    ].map((title) => text.indexOf(`\n${title}`));
    expect(order.every((index) => index > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toContain('✓ op03 suspended by epoch 6 — held from 150500 ms');
    expect(text).toContain('✗ all tasks completed — 3 of 6 completed');
    expect(text).toMatch(
      /no-proof-below-threshold\s+01:37\.250\s+aggregator\s+task t4 signed by 8e18 of 56e18/,
    );
    expect(text).toMatch(/network\s+\(network\)\s+02:00\.000\s+02:20\.000/);
    expect(text.trimEnd().endsWith(result.replayCommand)).toBe(true);
  });

  it('says PASS and "none" for a clean run', () => {
    const clean = formatSummary(smallRunResult({ passed: true, violations: [], faults: [] }));
    expect(clean).toContain('PASS');
    expect(clean).toMatch(/Invariant violations \(0\)\n {2}none/);
    expect(clean).not.toContain('Faults');
  });

  it('names the libp2p network, says its trace is not reproducible, and counts stalls', () => {
    const quiet = formatSummary(smallRunResult({ network: 'libp2p', networkStalls: 0 }));
    expect(quiet).toContain('network libp2p (memory transport) ·');
    expect(quiet).toContain('events · not reproducible on libp2p)');
    const stalled = formatSummary(smallRunResult({ network: 'libp2p', networkStalls: 2 }));
    expect(stalled).toContain('network libp2p (memory transport, 2 stalled deliveries)');
    expect(text).not.toContain('not reproducible');
  });

  it('adds ANSI colours only when asked, without changing the layout', () => {
    expect(text).not.toContain('\u001b[');
    const coloured = formatSummary(result, { color: true });
    expect(coloured).toContain('\u001b[');
    expect(stripAnsi(coloured)).toBe(text);
  });

  it('keeps 100 operators readable by grouping identical rows', () => {
    const big = fabricateRunResult({ operators: 100 });
    const summary = formatSummary(big);
    expect(summary).toContain('Operators (100: ');
    expect(summary).toContain('(identical rows grouped)');
    const section = summary.slice(summary.indexOf('\nOperators'), summary.indexOf('\nFaults'));
    const rows = section
      .split('\n')
      .map((line) => line.slice(2).split(/\s{2,}/))
      .filter((cells) => /^op\d/.test(cells[0] ?? '') && cells.length > 2);
    expect(rows.length).toBeLessThan(40);
    expect(rows.reduce((sum, cells) => sum + Number(cells[1]), 0)).toBe(100);
    // Every operator is named (in a range or on its own).
    const named = section.match(/op\d{3}/g) ?? [];
    expect(named.length).toBeGreaterThan(50);
    expect(section).toMatch(/op005\s+1\s+suspended/);
    expect(Math.max(...summary.split('\n').map((line) => line.length))).toBeLessThanOrEqual(160);
  });

  it('flattens newlines in data so tables stay one line per row', () => {
    const odd = formatSummary(
      smallRunResult({
        assertions: [{ description: 'multi\nline', passed: false, detail: 'a\tb' }],
      }),
    );
    expect(odd).toContain('✗ multi line — a b');
  });
});

describe('formatProgressLine', () => {
  it('shows virtual time, epoch, tasks and faults on one line', () => {
    expect(
      formatProgressLine({
        atMs: 205_400,
        epoch: 7,
        tasksDone: 35,
        tasksPending: 2,
        activeFaults: [],
      }),
    ).toBe('[03:25.400] epoch 7 │ tasks 35 done, 2 pending │ faults: none');
    const line = formatProgressLine({
      atMs: 61_000,
      epoch: 2,
      tasksDone: 1200,
      tasksPending: 3,
      activeFaults: [
        'crash op02 down',
        'partition a | b',
        'network {"latencyMs":900}',
        'rpc chain 1\nerrors',
      ],
    });
    expect(line).toBe(
      '[01:01.000] epoch 2 │ tasks 1,200 done, 3 pending │ faults: crash op02 down; partition a | b; network {"latencyMs":900} (+1 more)',
    );
    expect(line).not.toContain('\n');
  });
});
