import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain `N passed, N failed` line (CI reads it), and counts the
 * PostgreSQL tests separately so a log shows they ran rather than skipped.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let postgres = 0;
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        if (state === 'passed' && test.fullName.includes('[postgres]')) postgres++;
      }
    }
    process.stdout.write(`\nPostgreSQL: ${postgres} tests passed against a real server\n`);
    process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
  }
}
