import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time even on two CPUs: much of the suite waits on PostgreSQL and
    // on the real server and CLI processes of test/e2e (the default here would be one).
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts', './test/support/stall-reporter.ts'],
  },
});
