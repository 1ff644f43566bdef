/**
 * Renders a fabricated run to an HTML file (and prints its terminal summary) so the report can
 * be looked at without running a scenario:
 *   pnpm exec node sim/report/render-sample.ts [out.html] [--operators N]
 */
import { writeFileSync } from 'node:fs';
import { fabricateRunResult } from './fixtures.ts';
import { renderHtmlReport } from './html-report.ts';
import { formatSummary } from './summary-table.ts';

const args = process.argv.slice(2);
const operatorsFlag = args.indexOf('--operators');
const operators = operatorsFlag === -1 ? 24 : Number(args[operatorsFlag + 1]);
const out =
  args.find((arg, index) => !arg.startsWith('--') && args[index - 1] !== '--operators') ??
  '/tmp/spotted-report-sample.html';

const result = fabricateRunResult({ operators });
writeFileSync(out, renderHtmlReport(result));
process.stdout.write(formatSummary(result, { color: process.stdout.isTTY }));
process.stdout.write(`\nwrote ${out}\n`);
