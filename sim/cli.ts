/**
 * `pnpm sim <scenario.yaml>`: the simulator entry point. The simulator itself lands with its own
 * issue; until then this says so plainly instead of pretending to run.
 */
import { existsSync } from 'node:fs';

const scenario = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
if (scenario !== undefined && !existsSync(scenario)) {
  console.error(`sim: scenario file not found: ${scenario}`);
  process.exit(2);
}
console.log(
  `sim: simulator not built yet${scenario ? ` (asked to run ${scenario})` : ''}. ` +
    'The contracts, Anvil fixture and chain access it will drive are in place; see README.md.',
);
