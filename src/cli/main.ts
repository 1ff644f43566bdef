#!/usr/bin/env node
import { createProcessIo } from './adapters/process-io.ts';
import { runCli } from './program.ts';

/** The `spotted` executable (`pnpm spotted …`, or `node src/cli/main.ts …`). */
const io = createProcessIo();
io.exit(await runCli(io));
