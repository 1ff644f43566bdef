import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'src/**/*.test.ts',
      'sim/**/*.test.ts',
      'scripts/**/*.test.ts',
      'test/**/*.test.ts',
      // Unit tests of the bench's helpers only; the bench itself (`pnpm bench`) is never a test.
      'bench/**/*.test.ts',
    ],
    // Anvil-backed suites start real processes; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
