import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrace } from '../harness/trace.ts';
import { smallRunResult } from './fixtures.ts';
import { epochStartsFromTrace, writeRunOutputs } from './write-report.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('writeRunOutputs', () => {
  it('writes the trace, report and summary into a new directory', async () => {
    const base = await mkdtemp(join(tmpdir(), 'spotted-report-'));
    dirs.push(base);
    const trace = createTrace();
    trace.record({ atMs: 0, kind: 'run.start', seed: 4242 });
    trace.record({ atMs: 30_000, kind: 'epoch', epoch: 1, block: 10 });
    trace.record({ atMs: 60_000, kind: 'epoch', epoch: 2, block: 20 });
    const { epochStarts: _omit, ...withoutEpochs } = smallRunResult();
    const result = { ...withoutEpochs, traceHash: trace.hash(), traceEventCount: trace.count() };

    const paths = await writeRunOutputs(result, trace.lines(), join(base, 'nested', 'run'));

    expect(paths.dir).toBe(join(base, 'nested', 'run'));
    const traceFile = await readFile(paths.trace);
    expect(createHash('sha256').update(traceFile).digest('hex')).toBe(trace.hash());
    expect(traceFile.toString().trimEnd().split('\n')).toEqual(trace.lines());

    const html = await readFile(paths.report, 'utf8');
    expect(html).toContain('three-operators');
    expect(html).toContain(paths.trace);
    expect(html.match(/class="epoch"/g)?.length).toBe(2);

    const summary = await readFile(paths.summary, 'utf8');
    expect(summary).toContain(`→ ${paths.trace}`);
    expect(summary).toContain(`report → ${paths.report}`);
    expect(summary).not.toContain('\u001b[');
  });

  it('reads epoch starts from the trace', () => {
    expect(
      epochStartsFromTrace([
        '{"atMs":0,"kind":"run.start"}',
        '{"atMs":12000,"kind":"epoch","epoch":1,"block":4}',
        '{"atMs":13000,"kind":"log","message":"\\"kind\\":\\"epoch\\""}',
        'not json "kind":"epoch"',
      ]),
    ).toEqual([{ epoch: 1, atMs: 12_000 }]);
  });
});
