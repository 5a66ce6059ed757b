import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findStalls, summariseReport } from './stall-reporter.js';

const MINUTE = 60_000;

describe('the test run stall check', () => {
  it('names each file running past the limit, with its test, and nothing while all are within it', () => {
    const running = new Map([
      ['test/e2e/slow.test.ts', { since: 0, test: 'covenant watch > follows a rollout' }],
      ['test/core/quick.test.ts', { since: 9 * MINUTE }],
    ]);
    expect(findStalls({ lastEventAt: 9 * MINUTE, running }, 10 * MINUTE)).toEqual([]);
    expect(findStalls({ lastEventAt: 9 * MINUTE, running }, 11 * MINUTE)).toEqual([
      { file: 'test/e2e/slow.test.ts', message: 'test/e2e/slow.test.ts has run for 660 s, in "covenant watch > follows a rollout"' },
    ]);
  });

  it('reports a run that has gone quiet with no file running, as when a worker never starts', () => {
    const progress = { lastEventAt: 0, running: new Map() };
    expect(findStalls(progress, 10 * MINUTE)).toEqual([]);
    expect(findStalls(progress, 10 * MINUTE + 1000)).toEqual([{ message: 'no test file has been queued or finished for 601 s' }]);
  });

  it('takes its limit from the caller', () => {
    const running = new Map([['a.test.ts', { since: 0 }]]);
    expect(findStalls({ lastEventAt: 0, running }, 2000, 1000)).toEqual([{ file: 'a.test.ts', message: 'a.test.ts has run for 2 s' }]);
  });
});

describe('the summary of a stalled worker\'s diagnostic report', () => {
  it('names what an idle worker waits on: no JavaScript stack, its referenced timers and pipes', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'covenant-report-'));
    try {
      const child = spawn(process.execPath, ['--report-on-signal', `--report-directory=${directory}`, '-e', 'setTimeout(() => {}, 600_000); process.stdout.write("ready")'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      await new Promise((resolve) => child.stdout.once('data', resolve));
      child.kill('SIGUSR2');
      let files: string[] = [];
      for (let i = 0; i < 100 && files.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        files = readdirSync(directory).filter((name) => name.endsWith('.json'));
      }
      child.kill('SIGKILL');
      const summary = summariseReport(readFileSync(join(directory, files[0]!), 'utf8'));
      expect(summary).toContain('JavaScript stack: (none: idle in the event loop)');
      expect(summary).toMatch(/timer fires in \d+ ms/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
