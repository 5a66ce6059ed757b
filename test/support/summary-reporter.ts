import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/** What a run counted, per file too: the test command (scripts/test.mjs) adds up a run and its rerun. */
export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly postgres: number;
  readonly files: Readonly<Record<string, { readonly passed: number; readonly failed: number; readonly ok: boolean }>>;
}

export function summarise(modules: ReadonlyArray<TestModule>): RunSummary {
  const files: Record<string, { passed: number; failed: number; ok: boolean }> = {};
  let postgres = 0;
  for (const module of modules) {
    const file = { passed: 0, failed: 0, ok: module.ok() };
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') file.passed++;
      else if (state === 'failed') file.failed++;
      if (state === 'passed' && test.fullName.includes('[postgres]')) postgres++;
    }
    files[module.relativeModuleId] = file;
  }
  const total = (key: 'passed' | 'failed'): number => Object.values(files).reduce((n, file) => n + file[key], 0);
  return { passed: total('passed'), failed: total('failed'), postgres, files };
}

/**
 * Ends the run with one plain `N passed, N failed` line (CI reads it), and counts the
 * PostgreSQL tests separately so a log shows they ran rather than skipped. With
 * `summaryFile`, the counts are also written there as JSON.
 */
export default class SummaryReporter implements Reporter {
  constructor(private readonly options: { readonly summaryFile?: string } = {}) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const summary = summarise(modules);
    if (this.options.summaryFile !== undefined) writeFileSync(this.options.summaryFile, JSON.stringify(summary));
    process.stdout.write(`\nPostgreSQL: ${summary.postgres} tests passed against a real server\n`);
    process.stdout.write(`tests: ${summary.passed} passed, ${summary.failed} failed\n`);
  }
}
