import type { RunSummary } from './summary-reporter.js';

/** What the test command does after a run: done, or run the files stopped for a stall once more. */
export type AfterRun = { readonly rerun: false; readonly why?: string } | { readonly rerun: true; readonly files: readonly string[] };

/**
 * A run that failed only because files were stopped for a stall gets one more run of those
 * files; a run with any other failure (or no summary to tell) stands as it is.
 */
export function afterRun(status: number, summary: RunSummary | undefined, stalled: readonly string[]): AfterRun {
  if (status === 0 || stalled.length === 0) return { rerun: false };
  if (summary === undefined) return { rerun: false, why: 'the run left no summary' };
  const others = Object.entries(summary.files)
    .filter(([file, counts]) => !counts.ok && !stalled.includes(file))
    .map(([file]) => file);
  if (others.length > 0) return { rerun: false, why: `other files failed too (${others.join(', ')})` };
  return { rerun: true, files: [...new Set(stalled)] };
}

/** A run's counts with the stalled files' replaced by their rerun's. */
export function combine(first: RunSummary, stalled: readonly string[], rerun: RunSummary): { passed: number; failed: number } {
  const count = (key: 'passed' | 'failed'): number =>
    Object.entries(first.files).reduce((n, [file, counts]) => n + (stalled.includes(file) ? 0 : counts[key]), 0) + rerun[key];
  return { passed: count('passed'), failed: count('failed') };
}
