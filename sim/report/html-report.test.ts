import { describe, expect, it } from 'vitest';
import { fabricateRunResult, smallRunResult } from './fixtures.ts';
import { escapeHtml, renderHtmlReport } from './html-report.ts';

const VOID = new Set([
  'meta',
  'link',
  'br',
  'hr',
  'img',
  'input',
  'col',
  'area',
  'base',
  'wbr',
  'source',
]);

/**
 * A small well-formedness check: outside `<style>`, every tag that opens is closed in order
 * (void and self-closing tags excepted), and no `<` appears that is not a tag.
 */
function checkStructure(html: string): string[] {
  const problems: string[] = [];
  const body = html
    .replace(/<style>[\s\S]*?<\/style>/g, '<style></style>')
    .replace(/^<!DOCTYPE html>/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+(?:="[^"<>]*")?)*)\s*(\/?)>/y;
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '<') {
      if (body[i] === '>') problems.push(`stray '>' at ${i}`);
      continue;
    }
    tag.lastIndex = i;
    const match = tag.exec(body);
    if (match === null) {
      problems.push(`stray '<' at ${i}: ${body.slice(i, i + 30)}`);
      continue;
    }
    const [whole, closing, rawName, , selfClosing] = match;
    const name = (rawName ?? '').toLowerCase();
    if (closing === '/') {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}> at ${i}`);
    } else if (selfClosing !== '/' && !VOID.has(name)) {
      stack.push(name);
    }
    i += whole.length - 1;
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  return problems;
}

const count = (html: string, needle: RegExp) => html.match(needle)?.length ?? 0;

describe('the structure check', () => {
  it('catches unclosed tags and stray angle brackets', () => {
    expect(checkStructure('<div><span></div>')).not.toEqual([]);
    expect(checkStructure('<p>a < b</p>')).not.toEqual([]);
    expect(checkStructure('<p>a &lt; b<br></p>')).toEqual([]);
  });
});

describe('renderHtmlReport', () => {
  const result = smallRunResult();
  const html = renderHtmlReport(result);

  it('is one well-formed, self-contained page', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(checkStructure(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|src=|href="http|url\(http|@import/i);
  });

  it('has the summary numbers', () => {
    for (const text of [
      'three-operators',
      'FAIL',
      '4242',
      '03:25.400',
      '143x',
      '9f86d081884c',
      '12,345 events',
    ]) {
      expect(html).toContain(text);
    }
    // Completed latencies 400, 900, 1200 → p50 900, p95/p99 1,200.
    expect(html).toContain('<b>900</b> ms p50');
    expect(html).toContain('<b>1,200</b> ms p99');
    expect(html).toContain(escapeHtml(result.replayCommand));
  });

  it('names the network the run used', () => {
    expect(html).toContain('<dt>Network</dt><dd>sim</dd>');
    const libp2p = renderHtmlReport(smallRunResult({ network: 'libp2p', networkStalls: 0 }));
    expect(libp2p).toContain('libp2p (memory transport)');
    expect(libp2p).toContain('not reproducible on libp2p');
  });

  it('draws one timeline row per operator and a band per status change', () => {
    expect(count(html, /class="row-label"/g)).toBe(3);
    for (const operator of result.operators) {
      const bands = count(html, new RegExp(`class="band" data-op="${operator.name}"`, 'g'));
      expect(bands).toBe(operator.statusHistory.length);
    }
    expect(html).toContain('data-op="op03" data-status="suspended"');
  });

  it('draws fault bands on the affected rows and across all rows for network-wide faults', () => {
    expect(html).toMatch(
      /<rect class="fault" data-fault="0" data-op="op02"[^>]*><title>crash on op02: 01:30\.000 → 01:50\.000/,
    );
    expect(html).toMatch(
      /<rect class="fault fault-network" data-fault="1"[^>]*><title>network on whole network/,
    );
    expect(html).toMatch(
      /class="fault" data-fault="2" data-op="op03"[^>]*><title>byzantine on op03: 01:40\.000 → the end \(still active\)/,
    );
  });

  it('draws epoch boundaries, tasks coloured by outcome, the violation and a legend', () => {
    expect(count(html, /class="epoch"/g)).toBe(result.epochStarts?.length ?? -1);
    expect(count(html, /class="task" data-outcome="/g)).toBe(6);
    for (const outcome of ['completed', 'failed', 'expired', 'pending']) {
      expect(html).toContain(`data-outcome="${outcome}"`);
    }
    expect(count(html, /class="violation"/g)).toBe(1);
    for (const status of ['waitingJoin', 'waitingActive', 'active', 'unactive', 'suspended']) {
      expect(html).toMatch(new RegExp(`class="legend">.*${status}`));
    }
  });

  it('adds rows for non-operator nodes that faults target', () => {
    const withRegistry = renderHtmlReport(
      smallRunResult({
        faults: [{ kind: 'crash', targets: ['registry1'], fromMs: 10, toMs: 20, detail: 'down' }],
      }),
    );
    expect(count(withRegistry, /class="row-label"/g)).toBe(4);
    expect(withRegistry).toContain('data-op="registry1"');
  });

  it('escapes every piece of text from the run', () => {
    const evil = '<script>alert("x")</script>';
    const base = smallRunResult();
    const page = renderHtmlReport(
      smallRunResult({
        scenario: evil,
        replayCommand: `pnpm sim ${evil}`,
        operators: base.operators.map((op, i) =>
          i === 0 ? { ...op, name: evil, behaviour: evil, status: evil } : op,
        ),
        faults: [{ kind: evil, targets: [evil], fromMs: 1, toMs: 2, detail: evil }],
        assertions: [{ description: evil, passed: false, detail: evil }],
        violations: [{ invariant: evil, atMs: 5, nodes: [evil], detail: evil }],
        tasks: [
          {
            taskId: evil,
            requestedAtMs: 1,
            endedAtMs: 2,
            outcome: 'completed',
            epoch: 0,
            retries: 0,
            signers: [],
          },
        ],
      }),
    );
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(checkStructure(page)).toEqual([]);
  });

  it('renders an empty run', () => {
    const empty = renderHtmlReport(
      smallRunResult({
        tasks: [],
        operators: [],
        faults: [],
        violations: [],
        assertions: [],
        virtualDurationMs: 0,
      }),
    );
    expect(checkStructure(empty)).toEqual([]);
    expect(empty).toContain('No tasks were requested.');
  });

  it('scales to 100 operators', () => {
    const big = fabricateRunResult({ operators: 100 });
    const page = renderHtmlReport(big);
    expect(checkStructure(page)).toEqual([]);
    // 100 operators plus registry1, which a crash fault targets.
    expect(count(page, /class="row-label"/g)).toBe(101);
    const bands = big.operators.reduce((sum, op) => sum + op.statusHistory.length, 0);
    expect(count(page, /class="band"/g)).toBe(bands);
    expect(page.length).toBeLessThan(1_000_000);
    const viewBox =
      /viewBox="0 0 1200 ([\d.]+)" width="100%" role="img" aria-label="Operator status timeline"/.exec(
        page,
      );
    const height = Number(viewBox?.[1]);
    expect(height).toBeGreaterThan(1000);
    expect(height).toBeLessThan(1400);
  });
});
