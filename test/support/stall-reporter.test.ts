import { describe, expect, it } from 'vitest';
import { findStalls } from './stall-reporter.js';

const MINUTE = 60_000;

describe('the test run stall check', () => {
  it('names each file running past the limit, with its test, and nothing while all are within it', () => {
    const running = new Map([
      ['test/e2e/slow.test.ts', { since: 0, test: 'covenant watch > follows a rollout' }],
      ['test/core/quick.test.ts', { since: 9 * MINUTE }],
    ]);
    expect(findStalls({ lastEventAt: 9 * MINUTE, running }, 10 * MINUTE)).toEqual([]);
    expect(findStalls({ lastEventAt: 9 * MINUTE, running }, 11 * MINUTE)).toEqual(['test/e2e/slow.test.ts has run for 660 s, in "covenant watch > follows a rollout"']);
  });

  it('reports a run that has gone quiet with no file running, as when a worker never starts', () => {
    const progress = { lastEventAt: 0, running: new Map() };
    expect(findStalls(progress, 10 * MINUTE)).toEqual([]);
    expect(findStalls(progress, 10 * MINUTE + 1000)).toEqual(['no test file has been queued or finished for 601 s']);
  });

  it('takes its limit from the caller', () => {
    const running = new Map([['a.test.ts', { since: 0 }]]);
    expect(findStalls({ lastEventAt: 0, running }, 2000, 1000)).toEqual(['a.test.ts has run for 2 s']);
  });
});
