import { describe, expect, test } from 'vitest';
import { logTicks, renderLatencyPlot } from './plot.ts';

function polylines(svg: string): { label: string; points: [number, number][] }[] {
  return [...svg.matchAll(/<polyline class="series" data-label="([^"]*)" points="([^"]*)"/g)].map(
    (match) => ({
      label: match[1] ?? '',
      points: (match[2] ?? '')
        .split(' ')
        .map((pair) => pair.split(',').map(Number) as [number, number]),
    }),
  );
}

describe('logTicks', () => {
  test('gives 1-2-5 steps within the range', () => {
    expect(logTicks(10, 1000)).toEqual([10, 20, 50, 100, 200, 500, 1000]);
    expect(logTicks(1, 1)).toEqual([1]);
  });
});

describe('renderLatencyPlot', () => {
  const series = [
    {
      label: 'sim p50',
      color: '#00f',
      points: [
        { n: 4, ms: 60 },
        { n: 128, ms: 900 },
        { n: 16, ms: 130 },
      ],
    },
    {
      label: 'floor',
      color: '#888',
      points: [
        { n: 4, ms: 5 },
        { n: 128, ms: 0 },
      ],
    },
    { label: 'libp2p p50', color: '#f00', points: [] },
  ];
  const svg = renderLatencyPlot({ title: 'T <1>', subtitle: 's', series });

  test('draws one line per series with data, points ordered by N, zero values left out', () => {
    const lines = polylines(svg);
    expect(lines.map((l) => l.label)).toEqual(['sim p50', 'floor']);
    const sim = lines[0]?.points ?? [];
    expect(sim).toHaveLength(3);
    const xs = sim.map(([x]) => x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(lines[1]?.points).toHaveLength(1);
  });

  test('larger latencies are drawn higher (smaller y), inside the canvas', () => {
    const [p4, p16, p128] = polylines(svg)[0]?.points ?? [];
    expect((p4 as [number, number])[1]).toBeGreaterThan((p16 as [number, number])[1]);
    expect((p16 as [number, number])[1]).toBeGreaterThan((p128 as [number, number])[1]);
    for (const line of polylines(svg)) {
      for (const [x, y] of line.points) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(720);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(440);
      }
    }
  });

  test('escapes text and says so when there is no data', () => {
    expect(svg).toContain('T &#60;1&#62;');
    const empty = renderLatencyPlot({ title: 't', subtitle: 's', series: [] });
    expect(empty).toContain('no data');
    expect(polylines(empty)).toEqual([]);
  });
});
