import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** Where a stalled worker writes its diagnostic report when the stall reporter asks (SIGUSR2). */
const REPORT_DIRECTORY = join(tmpdir(), `covenant-test-reports-${process.pid}`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time even on two CPUs: much of the suite waits on PostgreSQL and
    // on the real server and CLI processes of test/e2e (the default here would be one).
    maxWorkers: 2,
    execArgv: ['--report-on-signal', `--report-directory=${REPORT_DIRECTORY}`],
    setupFiles: ['./test/support/worker-title.ts'],
    // The test command (scripts/test.mjs) names the files these write; a bare `vitest run` does without.
    reporters: [
      'default',
      ['./test/support/summary-reporter.ts', { summaryFile: process.env.COVENANT_TEST_SUMMARY }],
      ['./test/support/stall-reporter.ts', { reportDirectory: REPORT_DIRECTORY, stallsFile: process.env.COVENANT_TEST_STALLS }],
    ],
  },
});
