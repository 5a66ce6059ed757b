import { describe, expect, it } from 'vitest';
import { afterRun, combine } from './rerun.js';
import type { RunSummary } from './summary-reporter.js';

const summary = (files: RunSummary['files']): RunSummary => ({
  passed: Object.values(files).reduce((n, f) => n + f.passed, 0),
  failed: Object.values(files).reduce((n, f) => n + f.failed, 0),
  postgres: 0,
  files,
});

describe('what the test command does after a run', () => {
  const run = summary({ 'a.test.ts': { passed: 3, failed: 0, ok: true }, 'stuck.test.ts': { passed: 1, failed: 0, ok: false } });

  it('nothing after a run that passed, or that failed with no stall', () => {
    expect(afterRun(0, run, [])).toEqual({ rerun: false });
    expect(afterRun(1, run, [])).toEqual({ rerun: false });
  });

  it('runs the stalled files once more when they are all that failed', () => {
    expect(afterRun(1, run, ['stuck.test.ts', 'stuck.test.ts'])).toEqual({ rerun: true, files: ['stuck.test.ts'] });
  });

  it('lets the run stand when another file failed too, or when there is no summary', () => {
    const worse = summary({ ...run.files, 'broken.test.ts': { passed: 0, failed: 2, ok: false } });
    expect(afterRun(1, worse, ['stuck.test.ts'])).toEqual({ rerun: false, why: 'other files failed too (broken.test.ts)' });
    expect(afterRun(1, undefined, ['stuck.test.ts'])).toEqual({ rerun: false, why: 'the run left no summary' });
  });

  it("counts the stalled files' tests from their rerun only", () => {
    const rerun = summary({ 'stuck.test.ts': { passed: 4, failed: 0, ok: true } });
    expect(combine(run, ['stuck.test.ts'], rerun)).toEqual({ passed: 7, failed: 0 });
  });
});
